# CMake toolchain file: bare-metal Arm Cortex-M with the GNU Arm Embedded toolchain (arm-none-eabi-gcc).
# The core's flags (-mcpu, -mfpu, -mfloat-abi) are set by the project (CMakeLists.txt), not here.
set(CMAKE_SYSTEM_NAME Generic)
set(CMAKE_SYSTEM_PROCESSOR arm)

set(MCC_CROSS arm-none-eabi- CACHE STRING "prefix of the cross tools")
set(CMAKE_C_COMPILER ${MCC_CROSS}gcc)
set(CMAKE_ASM_COMPILER ${MCC_CROSS}gcc)
set(CMAKE_OBJCOPY ${MCC_CROSS}objcopy CACHE FILEPATH "")
set(CMAKE_SIZE ${MCC_CROSS}size CACHE FILEPATH "")

# Compiler checks link a static library: a bare-metal executable needs our startup and linker script.
set(CMAKE_TRY_COMPILE_TARGET_TYPE STATIC_LIBRARY)
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
