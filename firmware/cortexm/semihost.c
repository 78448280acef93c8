/* semihost.h over Arm semihosting ("Semihosting for AArch32 and AArch64", Arm, 2020Q4).
 *
 * On M-profile cores a semihosting call is `bkpt 0xAB` with r0 = the operation number and r1 = a
 * pointer to its parameter block (32-bit fields); the result comes back in r0. The operations used:
 *
 *   SYS_OPEN        0x01  {path, mode, length of path}     -> handle, or -1
 *   SYS_CLOSE       0x02  {handle}                         -> 0, or -1
 *   SYS_WRITE0      0x04  NUL-terminated string            (debug console; QEMU: stderr)
 *   SYS_WRITE       0x05  {handle, buffer, length}         -> bytes NOT written (0 = all)
 *   SYS_READ        0x06  {handle, buffer, length}         -> bytes NOT read (0 = all, length = EOF)
 *   SYS_GET_CMDLINE 0x15  {buffer, size} (updated: length) -> 0, or -1
 *
 * (SYS_EXIT 0x18 and SYS_EXIT_EXTENDED 0x20 are issued by startup.c, which reports the exit status
 * of main() and the fault exits.) Transfers go straight between the caller's buffer and the host in
 * a single call each -- the specification asks not to split them -- repeated only if the host
 * transfers part of the buffer, so there is no intermediate buffer at all.
 *
 * With -DMCC_NO_SEMIHOSTING every call fails instead of trapping (a bkpt without a debugger
 * attached escalates to a HardFault). */
#include "semihost.h"

#include <stddef.h>

#define MCC_SYS_OPEN 0x01u
#define MCC_SYS_CLOSE 0x02u
#define MCC_SYS_WRITE0 0x04u
#define MCC_SYS_WRITE 0x05u
#define MCC_SYS_READ 0x06u
#define MCC_SYS_GET_CMDLINE 0x15u

#define MCC_MODE_RB 1u /* the fopen() mode index of "rb" */
#define MCC_MODE_WB 5u /* ... and of "wb" */

static int32_t mcc_semihost_call(uint32_t op, void *block)
{
#ifndef MCC_NO_SEMIHOSTING
    register uint32_t r0 __asm__("r0") = op;
    register void *r1 __asm__("r1") = block;
    __asm__ volatile("bkpt 0xab" : "+r"(r0), "+r"(r1) : : "memory");
    return (int32_t)r0;
#else
    (void)op;
    (void)block;
    return -1;
#endif
}

int32_t mcc_host_command_line(char *buf, uint32_t size)
{
    uint32_t block[2];
    if (size < 2u) {
        return -1;
    }
    block[0] = (uint32_t)(uintptr_t)buf;
    block[1] = size - 1u;
    if (mcc_semihost_call(MCC_SYS_GET_CMDLINE, block) != 0) {
        return -1;
    }
    if (block[1] > size - 1u) {
        block[1] = size - 1u;
    }
    buf[block[1]] = '\0';
    return (int32_t)block[1];
}

int32_t mcc_host_open(const char *path, int for_write)
{
    uint32_t block[3];
    uint32_t n;
    int32_t handle;
    /* (bounded: an unbounded loop is compiled into a call of the C library's strlen) */
    for (n = 0u; n < 0xFFFFu && path[n] != '\0'; ++n) {
    }
    block[0] = (uint32_t)(uintptr_t)path;
    block[1] = for_write ? MCC_MODE_WB : MCC_MODE_RB;
    block[2] = n;
    handle = mcc_semihost_call(MCC_SYS_OPEN, block);
    return handle < 0 ? -1 : handle;
}

/* SYS_READ and SYS_WRITE: repeated while the host transfers part of the buffer and makes progress. */
static int32_t mcc_transfer(uint32_t op, int32_t handle, uintptr_t buf, uint32_t n)
{
    while (n > 0u) {
        uint32_t block[3];
        int32_t left;
        block[0] = (uint32_t)handle;
        block[1] = (uint32_t)buf;
        block[2] = n;
        left = mcc_semihost_call(op, block);
        if (left < 0 || (uint32_t)left >= n) {
            return -1; /* an error, the end of the file, or no progress */
        }
        buf += n - (uint32_t)left;
        n = (uint32_t)left;
    }
    return 0;
}

int32_t mcc_host_read(int32_t handle, void *buf, uint32_t n)
{
    return mcc_transfer(MCC_SYS_READ, handle, (uintptr_t)buf, n);
}

int32_t mcc_host_write(int32_t handle, const void *buf, uint32_t n)
{
    return mcc_transfer(MCC_SYS_WRITE, handle, (uintptr_t)buf, n);
}

int32_t mcc_host_close(int32_t handle)
{
    uint32_t block[1];
    block[0] = (uint32_t)handle;
    return mcc_semihost_call(MCC_SYS_CLOSE, block) == 0 ? 0 : -1;
}

void mcc_host_puts(const char *s)
{
    (void)mcc_semihost_call(MCC_SYS_WRITE0, (void *)(uintptr_t)s);
}
