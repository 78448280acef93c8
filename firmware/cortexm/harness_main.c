/* Cortex-M harness for an mcc-generated model, for emulators (QEMU) and boards under a debugger.
 *
 * usage (the semihosting command line): firmware INPUT.bin OUTPUT.bin N [MARKS.bin]
 * Reads N inputs of MCC_INPUT_BYTES each from INPUT.bin on the host (semihosting file I/O through
 * newlib's librdimon), runs the model on each, and writes the N outputs to OUTPUT.bin.
 *
 * Profiling: mcc_profile_mark() is an empty, never-inlined function called right before and right
 * after every mcc_model_run(). An instruction-counting QEMU plugin (firmware/qemu_plugin) watches
 * its address and records the instruction count each time it runs. Built with -DMCC_TRACE
 * -DMCC_PROFILE, the model also calls mcc_trace() after every operator, which marks again and
 * remembers the operator index; the sequence of mark labels (int32: MCC_MARK_CALIBRATE twice at
 * start-up, then per inference MCC_MARK_RUN_START, the operator indices, MCC_MARK_RUN_END) is
 * written to MARKS.bin so the host can pair each count with its label.
 *
 * Exit codes: 0 ok, 1 the model returned an error, 2 bad arguments or host file I/O. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

#include "mcc_model.h"

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
static FILE *s_marks_file = NULL;

static void mcc_flush_marks(void)
{
    if (s_marks_file != NULL && s_mark_count > 0) {
        fwrite(s_marks, sizeof s_marks[0], (size_t)s_mark_count, s_marks_file);
    }
    s_mark_count = 0;
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
    struct {
        char *buf;
        uint32_t len;
    } block = {line, sizeof line - 1u};
    register uint32_t r0 __asm__("r0") = 0x15u; /* SYS_GET_CMDLINE */
    register void *r1 __asm__("r1") = &block;
    int argc = 0;
    char *p;

    __asm__ volatile("bkpt 0xab" : "+r"(r0) : "r"(r1) : "memory");
    if (r0 != 0u) {
        return 0;
    }
    line[block.len < sizeof line ? block.len : sizeof line - 1u] = '\0';
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
    fputs("mcc firmware: ", stderr);
    fputs(what, stderr);
    if (detail != NULL) {
        fputs(detail, stderr);
    }
    if (item >= 0) {
        fputs(" at item ", stderr);
        fputs(&digits[i], stderr);
    }
    fputs("\n", stderr);
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
    FILE *in;
    FILE *out;
    long n;
    long k;

    if (argc < 4) {
        return mcc_fail(2, "usage: firmware INPUT.bin OUTPUT.bin N [MARKS.bin] (semihosting command line)", NULL, -1);
    }
    n = mcc_parse_count(argv[3]);
    in = fopen(argv[1], "rb");
    out = fopen(argv[2], "wb");
    if (in == NULL || out == NULL) {
        return mcc_fail(2, "cannot open the input or the output file ", argv[in == NULL ? 1 : 2], -1);
    }
#ifdef MCC_PROFILE
    if (argc > 4) {
        s_marks_file = fopen(argv[4], "wb");
        if (s_marks_file == NULL) {
            return mcc_fail(2, "cannot open the marks file ", argv[4], -1);
        }
    }
#endif
    /* Two back-to-back marks measure the cost of one mark, which the host subtracts. */
    MCC_MARK(MCC_MARK_CALIBRATE);
    MCC_MARK(MCC_MARK_CALIBRATE);
#ifdef MCC_PROFILE
    mcc_flush_marks();
#endif
    if (mcc_model_init(s_arena) != MCC_OK) {
        return mcc_fail(1, "mcc_model_init failed", NULL, -1);
    }
    for (k = 0; k < n; ++k) {
        mcc_status status;
        if (fread(s_input, 1, MCC_INPUT_BYTES, in) != MCC_INPUT_BYTES) {
            return mcc_fail(2, "short input", NULL, k);
        }
        MCC_MARK(MCC_MARK_RUN_START);
        status = mcc_model_run(s_input, s_output);
        MCC_MARK(MCC_MARK_RUN_END);
#ifdef MCC_PROFILE
        mcc_flush_marks();
#endif
        if (status != MCC_OK) {
            return mcc_fail(1, "mcc_model_run returned an error status", NULL, k);
        }
        if (fwrite(s_output, 1, MCC_OUTPUT_BYTES, out) != MCC_OUTPUT_BYTES) {
            return mcc_fail(2, "cannot write the output", NULL, k);
        }
    }
    fclose(in);
    fclose(out);
#ifdef MCC_PROFILE
    if (s_marks_file != NULL) {
        fclose(s_marks_file);
    }
#endif
    return 0;
}
