/* Cortex-M harness for an mcc-generated model, for emulators (QEMU) and boards under a debugger.
 *
 * usage (the semihosting command line): firmware INPUT.bin OUTPUT.bin N [MARKS.bin]
 * Reads N inputs of MCC_INPUT_BYTES each from INPUT.bin on the host, runs the model on each, and
 * writes the N outputs to OUTPUT.bin. Host I/O goes through semihost.h (semihost.c: Arm
 * semihosting; swap that file for a UART on a board without a debugger), straight between the host
 * and the model's input/output buffers: no C library stdio, no FILE buffers, no heap.
 *
 * Profiling: mcc_profile_mark() is an empty, never-inlined function called right before and right
 * after every mcc_model_run(). An instruction-counting QEMU plugin (firmware/qemu_plugin) watches
 * its address and records the instruction count each time it runs. Built with -DMCC_TRACE
 * -DMCC_PROFILE, the model also calls mcc_trace() after every operator, which marks again and
 * remembers the operator index; the sequence of mark labels (int32: MCC_MARK_CALIBRATE twice at
 * start-up, then per inference MCC_MARK_RUN_START, the operator indices, MCC_MARK_RUN_END) is
 * written to MARKS.bin so the host can pair each count with its label. All host I/O happens
 * outside the marked regions.
 *
 * Exit codes (main()'s return value, reported by startup.c): 0 ok, 1 the model returned an error,
 * 2 bad arguments or host file I/O. */
#include <stddef.h>
#include <stdint.h>

#include "mcc_model.h"
#include "semihost.h"

#if defined(MCC_PROFILE) && !defined(MCC_TRACE)
#error "MCC_PROFILE needs MCC_TRACE (the model's per-operator hook)"
#endif

#define MCC_MARK_CALIBRATE (-3)
#define MCC_MARK_RUN_START (-1)
#define MCC_MARK_RUN_END (-2)

static uint8_t s_arena[MCC_ARENA_SIZE] __attribute__((aligned(MCC_ARENA_ALIGN)));
static mcc_input_t s_input[MCC_INPUT_COUNT] __attribute__((aligned(16)));
static mcc_output_t s_output[MCC_OUTPUT_COUNT] __attribute__((aligned(16)));

/* The profiling marker: its address is what the instruction-counting plugin watches. */
void mcc_profile_mark(void) __attribute__((noinline, noclone, used));
void mcc_profile_mark(void)
{
    __asm__ volatile("nop" ::: "memory");
}

#ifdef MCC_PROFILE
/* Labels of the marks since the last flush: start, one per operator, end. */
#define MCC_MAX_MARKS 1024
static int32_t s_marks[MCC_MAX_MARKS];
static int s_mark_count = 0;
static int32_t s_marks_file = -1;

static int mcc_flush_marks(void)
{
    int ok = s_marks_file < 0 ||
             mcc_host_write(s_marks_file, s_marks, (uint32_t)s_mark_count * (uint32_t)sizeof s_marks[0]) == 0;
    s_mark_count = 0;
    return ok;
}
#endif

#ifdef MCC_TRACE
/* Called by the model after every operator (and, when profiling, by main() around each run):
 * every mark takes this same path, so the cost of one call, measured at start-up, can be subtracted
 * (what remains differs from the operator's own cost only by the caller's argument set-up). */
void mcc_trace(int op_index, const void *data, size_t bytes) __attribute__((noinline));
void mcc_trace(int op_index, const void *data, size_t bytes)
{
    (void)data;
    (void)bytes;
#ifdef MCC_PROFILE
    if (s_mark_count < MCC_MAX_MARKS) {
        s_marks[s_mark_count++] = (int32_t)op_index;
    }
    mcc_profile_mark();
#else
    (void)op_index;
#endif
}
#endif

#ifdef MCC_PROFILE
#define MCC_MARK(label) mcc_trace((label), NULL, 0)
#else
#define MCC_MARK(label) mcc_profile_mark()
#endif

/* The command line from the debugger/emulator (semihosting SYS_GET_CMDLINE), split at spaces. */
#define MCC_MAX_ARGS 8
static int mcc_command_line(char **argv)
{
    static char line[256];
    int argc = 0;
    char *p;

    if (mcc_host_command_line(line, sizeof line) < 0) {
        return 0;
    }
    for (p = line; *p != '\0' && argc < MCC_MAX_ARGS;) {
        while (*p == ' ') {
            *p++ = '\0';
        }
        if (*p == '\0') {
            break;
        }
        argv[argc++] = p;
        while (*p != '\0' && *p != ' ') {
            ++p;
        }
    }
    return argc;
}

/* Error reporting without printf (which would add ~2 KiB of flash): "mcc firmware: WHAT ITEM\n". */
static int mcc_fail(int code, const char *what, const char *detail, long item)
{
    char digits[12];
    int i = (int)sizeof digits;
    unsigned long v = item < 0 ? 0ul : (unsigned long)item;
    digits[--i] = '\0';
    do {
        digits[--i] = (char)('0' + v % 10ul);
        v /= 10ul;
    } while (v != 0ul && i > 0);
    mcc_host_puts("mcc firmware: ");
    mcc_host_puts(what);
    if (detail != NULL) {
        mcc_host_puts(detail);
    }
    if (item >= 0) {
        mcc_host_puts(" at item ");
        mcc_host_puts(&digits[i]);
    }
    mcc_host_puts("\n");
    return code;
}

static long mcc_parse_count(const char *s)
{
    long v = 0;
    for (; *s >= '0' && *s <= '9'; ++s) {
        v = v * 10 + (*s - '0');
    }
    return v;
}

int main(void)
{
    char *argv[MCC_MAX_ARGS];
    int argc = mcc_command_line(argv);
    int32_t in;
    int32_t out;
    long n;
    long k;

    if (argc < 4) {
        return mcc_fail(2, "usage: firmware INPUT.bin OUTPUT.bin N [MARKS.bin] (semihosting command line)", NULL, -1);
    }
    n = mcc_parse_count(argv[3]);
    in = mcc_host_open(argv[1], 0);
    out = mcc_host_open(argv[2], 1);
    if (in < 0 || out < 0) {
        return mcc_fail(2, "cannot open the input or the output file ", argv[in < 0 ? 1 : 2], -1);
    }
#ifdef MCC_PROFILE
    if (argc > 4) {
        s_marks_file = mcc_host_open(argv[4], 1);
        if (s_marks_file < 0) {
            return mcc_fail(2, "cannot open the marks file ", argv[4], -1);
        }
    }
#endif
    /* Two back-to-back marks measure the cost of one mark, which the host subtracts. */
    MCC_MARK(MCC_MARK_CALIBRATE);
    MCC_MARK(MCC_MARK_CALIBRATE);
#ifdef MCC_PROFILE
    if (!mcc_flush_marks()) {
        return mcc_fail(2, "cannot write the marks", NULL, -1);
    }
#endif
    if (mcc_model_init(s_arena) != MCC_OK) {
        return mcc_fail(1, "mcc_model_init failed", NULL, -1);
    }
    for (k = 0; k < n; ++k) {
        mcc_status status;
        if (mcc_host_read(in, s_input, MCC_INPUT_BYTES) != 0) {
            return mcc_fail(2, "short input", NULL, k);
        }
        MCC_MARK(MCC_MARK_RUN_START);
        status = mcc_model_run(s_input, s_output);
        MCC_MARK(MCC_MARK_RUN_END);
#ifdef MCC_PROFILE
        if (!mcc_flush_marks()) {
            return mcc_fail(2, "cannot write the marks", NULL, k);
        }
#endif
        if (status != MCC_OK) {
            return mcc_fail(1, "mcc_model_run returned an error status", NULL, k);
        }
        if (mcc_host_write(out, s_output, MCC_OUTPUT_BYTES) != 0) {
            return mcc_fail(2, "cannot write the output", NULL, k);
        }
    }
    (void)mcc_host_close(in);
    if (mcc_host_close(out) != 0) {
        return mcc_fail(2, "cannot close the output file", NULL, -1);
    }
#ifdef MCC_PROFILE
    if (s_marks_file >= 0 && mcc_host_close(s_marks_file) != 0) {
        return mcc_fail(2, "cannot close the marks file", NULL, -1);
    }
#endif
    return 0;
}
