/* insn_count: a QEMU TCG plugin that counts executed guest instructions exactly and records the
 * running count each time the guest executes a marker address.
 *
 *   qemu-system-arm ... -plugin insn_count.so,marker=0x0000abcd,out=counts.txt
 *
 * out (written as the guest runs, so nothing is lost however QEMU exits):
 *   mark <n>    one line per execution of the marker: n = instructions executed before it
 *   total <n>   at exit (when QEMU runs its plugin exit callbacks), instructions executed in all
 *
 * Counting: every translation block gets an inline 64-bit add of its instruction count, executed
 * when the block starts; a block that holds the marker also gets a callback on that instruction,
 * which subtracts the instructions of the block not yet executed. The count is exact for code that
 * runs without exceptions in the middle of a block (the firmware's model code: no interrupts are
 * enabled and semihosting calls happen only outside the marked regions).
 *
 * Built with the host C compiler as a shared object. QEMU's plugin header is not installed by
 * distributions, so the handful of declarations of the version-1 plugin API used here are written
 * out below (tested with Debian's QEMU 7.2). QEMU checks the version a plugin declares against the
 * range it supports, so a QEMU that has dropped version 1 refuses the plugin with a message rather
 * than misbehaving. */
#include <inttypes.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- QEMU plugin API, version 1 (the subset used) ------------------------------------------ */

#define MCC_EXPORT __attribute__((visibility("default")))

typedef uint64_t qemu_plugin_id_t;
struct qemu_plugin_tb;
struct qemu_plugin_insn;
typedef struct {
    const char *target_name; /* only this (first) member is read */
} mcc_qemu_info_prefix;

enum qemu_plugin_cb_flags { QEMU_PLUGIN_CB_NO_REGS, QEMU_PLUGIN_CB_R_REGS, QEMU_PLUGIN_CB_RW_REGS };
enum qemu_plugin_op { QEMU_PLUGIN_INLINE_ADD_U64 };

typedef void (*qemu_plugin_vcpu_tb_trans_cb_t)(qemu_plugin_id_t id, struct qemu_plugin_tb *tb);
typedef void (*qemu_plugin_vcpu_udata_cb_t)(unsigned int vcpu_index, void *userdata);
typedef void (*qemu_plugin_udata_cb_t)(qemu_plugin_id_t id, void *userdata);

void qemu_plugin_register_vcpu_tb_trans_cb(qemu_plugin_id_t id, qemu_plugin_vcpu_tb_trans_cb_t cb);
void qemu_plugin_register_vcpu_tb_exec_inline(struct qemu_plugin_tb *tb, enum qemu_plugin_op op, void *ptr,
                                              uint64_t imm);
void qemu_plugin_register_vcpu_insn_exec_cb(struct qemu_plugin_insn *insn, qemu_plugin_vcpu_udata_cb_t cb,
                                            enum qemu_plugin_cb_flags flags, void *userdata);
void qemu_plugin_register_atexit_cb(qemu_plugin_id_t id, qemu_plugin_udata_cb_t cb, void *userdata);
size_t qemu_plugin_tb_n_insns(const struct qemu_plugin_tb *tb);
struct qemu_plugin_insn *qemu_plugin_tb_get_insn(const struct qemu_plugin_tb *tb, size_t idx);
uint64_t qemu_plugin_insn_vaddr(const struct qemu_plugin_insn *insn);
void qemu_plugin_outs(const char *string);

MCC_EXPORT extern int qemu_plugin_version;
MCC_EXPORT int qemu_plugin_version = 1;

MCC_EXPORT int qemu_plugin_install(qemu_plugin_id_t id, const void *info, int argc, char **argv);

/* ---- the plugin ----------------------------------------------------------------------------- */

static uint64_t s_executed;     /* instructions of every block entered so far (single vCPU) */
static uint64_t s_marker = UINT64_MAX;
static FILE *s_out;

/* userdata: instructions of the marker's block from the marker to the block's end (already added). */
static void on_marker(unsigned int vcpu_index, void *userdata)
{
    (void)vcpu_index;
    fprintf(s_out, "mark %" PRIu64 "\n", s_executed - (uint64_t)(uintptr_t)userdata);
    fflush(s_out);
}

static void on_translate(qemu_plugin_id_t id, struct qemu_plugin_tb *tb)
{
    size_t n = qemu_plugin_tb_n_insns(tb);
    size_t i;
    (void)id;
    qemu_plugin_register_vcpu_tb_exec_inline(tb, QEMU_PLUGIN_INLINE_ADD_U64, &s_executed, (uint64_t)n);
    for (i = 0; i < n; ++i) {
        struct qemu_plugin_insn *insn = qemu_plugin_tb_get_insn(tb, i);
        if (qemu_plugin_insn_vaddr(insn) == s_marker) {
            qemu_plugin_register_vcpu_insn_exec_cb(insn, on_marker, QEMU_PLUGIN_CB_NO_REGS,
                                                   (void *)(uintptr_t)(n - i));
        }
    }
}

static void on_plugin_exit(qemu_plugin_id_t id, void *userdata)
{
    (void)id;
    (void)userdata;
    fprintf(s_out, "total %" PRIu64 "\n", s_executed);
    fflush(s_out);
    if (s_out != stderr) {
        fclose(s_out);
        s_out = stderr;
    }
}

int qemu_plugin_install(qemu_plugin_id_t id, const void *info, int argc, char **argv)
{
    const char *out = NULL;
    int k;
    (void)info;
    for (k = 0; k < argc; ++k) {
        if (strncmp(argv[k], "marker=", 7) == 0) {
            s_marker = strtoull(argv[k] + 7, NULL, 0) & ~(uint64_t)1; /* drop the Thumb bit */
        } else if (strncmp(argv[k], "out=", 4) == 0) {
            out = argv[k] + 4;
        } else {
            fprintf(stderr, "insn_count: unknown argument %s (expected marker=ADDR, out=FILE)\n", argv[k]);
            return -1;
        }
    }
    s_out = out != NULL ? fopen(out, "w") : stderr;
    if (s_out == NULL) {
        fprintf(stderr, "insn_count: cannot open %s\n", out);
        return -1;
    }
    qemu_plugin_register_vcpu_tb_trans_cb(id, on_translate);
    qemu_plugin_register_atexit_cb(id, on_plugin_exit, NULL);
    return 0;
}
