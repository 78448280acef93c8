/* Startup code for mcc firmware on Arm Cortex-M (Armv6-M, Armv7-M, Armv8-M, Armv8.1-M).
 *
 * Provides the vector table, Reset_Handler (copy .data, zero .bss, enable the FPU/MVE coprocessors
 * where the core has them, set up fault reporting, then call main() and exit with its status) and
 * fault handlers that report over semihosting and exit with a distinct nonzero code, so a fault
 * never hangs an emulator or a CI job:
 *
 *   MCC_EXIT_HARDFAULT   3    MCC_EXIT_BUSFAULT    5    MCC_EXIT_NMI          8
 *   MCC_EXIT_MEMMANAGE   4    MCC_EXIT_USAGEFAULT  6    MCC_EXIT_SECUREFAULT  9
 *   MCC_EXIT_UNEXPECTED  7 (any other exception or interrupt: nothing in mcc enables one)
 *
 * Symbols from the linker script (templates/linker.ld.j2): __data_load, __data_start, __data_end,
 * __bss_start, __bss_end, __heap_start, __heap_end, __stack_limit, __stack_top.
 *
 * main()'s return value is the exit status. Exits and fault reports use two semihosting calls of
 * their own (SYS_EXIT_EXTENDED/SYS_EXIT and SYS_WRITE0; `bkpt 0xAB`), so this file needs no C
 * library at all; the harness's file I/O is in semihost.c. Define MCC_NO_SEMIHOSTING for a board
 * without a debugger attached: then exits and faults spin in a breakpoint loop instead.
 *
 * An application that uses newlib's semihosted stdio instead (linked with --specs=rdimon.specs)
 * still works: if librdimon is linked, its initialise_monitor_handles() runs before main() (a weak
 * reference, which pulls nothing in otherwise); such an application must fclose()/fflush() its
 * files itself, as the exit does not go through the C library's exit(). */
#include <stddef.h>
#include <stdint.h>

#define MCC_EXIT_HARDFAULT 3
#define MCC_EXIT_MEMMANAGE 4
#define MCC_EXIT_BUSFAULT 5
#define MCC_EXIT_USAGEFAULT 6
#define MCC_EXIT_UNEXPECTED 7
#define MCC_EXIT_NMI 8
#define MCC_EXIT_SECUREFAULT 9

/* System control block registers (identical addresses on every M-profile core). */
#define MCC_SCB_VTOR (*(volatile uint32_t *)0xE000ED08u)
#define MCC_SCB_SHCSR (*(volatile uint32_t *)0xE000ED24u)
#define MCC_SCB_CPACR (*(volatile uint32_t *)0xE000ED88u)

#if defined(__ARM_ARCH_7M__) || defined(__ARM_ARCH_7EM__) || defined(__ARM_ARCH_8M_MAIN__) || \
    defined(__ARM_ARCH_8_1M_MAIN__)
#define MCC_HAS_CONFIGURABLE_FAULTS 1
#else
#define MCC_HAS_CONFIGURABLE_FAULTS 0
#endif

#if defined(__ARM_ARCH_8M_MAIN__) || defined(__ARM_ARCH_8_1M_MAIN__)
#define MCC_HAS_STACK_LIMIT 1
#else
#define MCC_HAS_STACK_LIMIT 0
#endif

extern uint32_t __data_load[];
extern uint32_t __data_start[];
extern uint32_t __data_end[];
extern uint32_t __bss_start[];
extern uint32_t __bss_end[];
extern char __heap_start[];
extern char __heap_end[];
extern uint32_t __stack_limit[];
extern uint32_t __stack_top[];

extern int main(void);
extern void initialise_monitor_handles(void) __attribute__((weak)); /* librdimon, if linked */

void Reset_Handler(void) __attribute__((noreturn));
void mcc_fault_exit(uint32_t code, const uint32_t *frame) __attribute__((noreturn, used));

/* ---- semihosting ---------------------------------------------------------------------------- */

#ifndef MCC_NO_SEMIHOSTING
static uint32_t mcc_semihost(uint32_t op, const void *arg)
{
    register uint32_t r0 __asm__("r0") = op;
    register const void *r1 __asm__("r1") = arg;
    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}
#endif

/* Exits the emulator with `code` (SYS_EXIT_EXTENDED; an emulator without it still exits nonzero). */
static void __attribute__((noreturn)) mcc_semihost_exit(uint32_t code)
{
#ifndef MCC_NO_SEMIHOSTING
    uint32_t block[2];
    block[0] = 0x20026u; /* ADP_Stopped_ApplicationExit */
    block[1] = code;
    (void)mcc_semihost(0x20u, block); /* SYS_EXIT_EXTENDED */
    (void)mcc_semihost(0x18u, (const void *)0x20023u); /* SYS_EXIT, ADP_Stopped_RunTimeErrorUnknown */
#else
    (void)code;
#endif
    for (;;) {
        __asm__ volatile("bkpt 0");
    }
}

/* ---- faults --------------------------------------------------------------------------------- */

static void mcc_put_hex(char *dst, uint32_t v)
{
    int i;
    for (i = 7; i >= 0; --i) {
        uint32_t nib = (v >> (4 * i)) & 0xFu;
        *dst++ = (char)(nib < 10u ? '0' + nib : 'a' + nib - 10u);
    }
}

/* Called by the fault handlers with the exception's exit code and its stacked frame
 * (r0-r3, r12, lr, pc, xpsr): prints "mcc: fault N at pc=0x... lr=0x..." on stderr and exits. */
void mcc_fault_exit(uint32_t code, const uint32_t *frame)
{
#ifndef MCC_NO_SEMIHOSTING
    static char msg[] = "mcc: fault 0 at pc=0x00000000 lr=0x00000000\n";
    msg[11] = (char)('0' + code % 10u);
    mcc_put_hex(&msg[21], frame[6]);
    mcc_put_hex(&msg[35], frame[5]);
    (void)mcc_semihost(0x04u, msg); /* SYS_WRITE0 to the debug console */
#else
    (void)frame;
#endif
    mcc_semihost_exit(code);
}

/* Each handler passes its code and the active stack pointer (bit 2 of EXC_RETURN: MSP or PSP). */
#if MCC_HAS_CONFIGURABLE_FAULTS
#define MCC_FAULT_HANDLER(name, code)                                                              \
    void __attribute__((naked, noreturn)) name(void)                                              \
    {                                                                                              \
        __asm__ volatile("tst lr, #4\n\t"                                                         \
                         "ite eq\n\t"                                                              \
                         "mrseq r1, msp\n\t"                                                       \
                         "mrsne r1, psp\n\t"                                                       \
                         "movs r0, %0\n\t"                                                         \
                         "b mcc_fault_exit\n\t" ::"i"(code));                                     \
    }
#else /* Armv6-M: no IT blocks, no tst with an immediate */
#define MCC_FAULT_HANDLER(name, code)                                                              \
    void __attribute__((naked, noreturn)) name(void)                                              \
    {                                                                                              \
        __asm__ volatile("mov r0, lr\n\t"                                                          \
                         "movs r1, #4\n\t"                                                         \
                         "tst r0, r1\n\t"                                                          \
                         "mrs r1, msp\n\t"                                                         \
                         "beq 1f\n\t"                                                              \
                         "mrs r1, psp\n"                                                           \
                         "1:\n\t"                                                                  \
                         "movs r0, %0\n\t"                                                         \
                         "ldr r2, =mcc_fault_exit\n\t"                                             \
                         "bx r2\n\t" ::"i"(code));                                                \
    }
#endif

MCC_FAULT_HANDLER(NMI_Handler, MCC_EXIT_NMI)
MCC_FAULT_HANDLER(HardFault_Handler, MCC_EXIT_HARDFAULT)
MCC_FAULT_HANDLER(Default_Handler, MCC_EXIT_UNEXPECTED)
#if MCC_HAS_CONFIGURABLE_FAULTS
MCC_FAULT_HANDLER(MemManage_Handler, MCC_EXIT_MEMMANAGE)
MCC_FAULT_HANDLER(BusFault_Handler, MCC_EXIT_BUSFAULT)
MCC_FAULT_HANDLER(UsageFault_Handler, MCC_EXIT_USAGEFAULT)
#endif
#if MCC_HAS_STACK_LIMIT
MCC_FAULT_HANDLER(SecureFault_Handler, MCC_EXIT_SECUREFAULT)
#endif

/* ---- vector table --------------------------------------------------------------------------- */

typedef void (*mcc_vector_t)(void);

#ifndef MCC_IRQ_COUNT
#define MCC_IRQ_COUNT 32
#endif

/* 16 system exceptions, then MCC_IRQ_COUNT external interrupts (all unexpected). */
/* (A GNU range designator fills the interrupt entries; __extension__ keeps -pedantic quiet.) */
__extension__ __attribute__((section(".vectors"), used)) const mcc_vector_t mcc_vectors[16 + MCC_IRQ_COUNT] = {
    (mcc_vector_t)(uintptr_t)__stack_top,
    Reset_Handler,
    NMI_Handler,
    HardFault_Handler,
#if MCC_HAS_CONFIGURABLE_FAULTS
    MemManage_Handler,
    BusFault_Handler,
    UsageFault_Handler,
#else
    Default_Handler,
    Default_Handler,
    Default_Handler,
#endif
#if MCC_HAS_STACK_LIMIT
    SecureFault_Handler,
#else
    0,
#endif
    0,
    0,
    0,
    Default_Handler, /* SVCall */
    Default_Handler, /* DebugMonitor */
    0,
    Default_Handler, /* PendSV */
    Default_Handler, /* SysTick */
    [16 ... 16 + MCC_IRQ_COUNT - 1] = Default_Handler,
};

/* ---- reset ---------------------------------------------------------------------------------- */

void Reset_Handler(void)
{
    uint32_t *src;
    uint32_t *dst;

#if defined(__ARM_FP) || defined(__ARM_FEATURE_MVE)
    /* Full access to CP10/CP11 (the FPU and, on Armv8.1-M, Helium) before any FP instruction. */
    MCC_SCB_CPACR |= (0xFu << 20);
    __asm__ volatile("dsb\n\tisb" ::: "memory");
#endif
#if MCC_HAS_STACK_LIMIT
    /* A stack overflow faults (UsageFault STKOF) instead of silently corrupting the heap. */
    __asm__ volatile("msr msplim, %0" ::"r"(__stack_limit));
#endif
    MCC_SCB_VTOR = (uint32_t)(uintptr_t)mcc_vectors;
#if MCC_HAS_CONFIGURABLE_FAULTS
    /* Report MemManage, BusFault and UsageFault separately instead of escalating to HardFault. */
    MCC_SCB_SHCSR |= (1u << 16) | (1u << 17) | (1u << 18);
#endif

    for (src = __data_load, dst = __data_start; dst < __data_end;) {
        *dst++ = *src++;
    }
    for (dst = __bss_start; dst < __bss_end;) {
        *dst++ = 0u;
    }
    __asm__ volatile("dsb\n\tisb" ::: "memory");

    if (initialise_monitor_handles != NULL) {
        initialise_monitor_handles();
    }
    mcc_semihost_exit((uint32_t)main());
}

/* For applications that link malloc (the mcc harness does not, and --gc-sections drops this): the
 * heap lies between the end of .bss and the bottom of the stack; it never grows into the stack. */
void *_sbrk(ptrdiff_t increment)
{
    static char *s_brk = __heap_start;
    char *previous = s_brk;
    if (increment < 0 ? (size_t)(-increment) > (size_t)(s_brk - __heap_start)
                      : (size_t)increment > (size_t)(__heap_end - s_brk)) {
        return (void *)-1;
    }
    s_brk += increment;
    return previous;
}
