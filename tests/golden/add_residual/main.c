/* Host harness for an mcc-generated model.
 * usage: mcc_runner INPUT.bin OUTPUT.bin N [TRACE.bin]
 * Reads N inputs of MCC_INPUT_BYTES each, runs the model on each, writes N outputs. A runner built
 * with -DMCC_TRACE also writes, per input and operator, (int32 op index, int32 bytes, data). */
#include <stdio.h>
#include <stdlib.h>

#include "mcc_model.h"

static unsigned char s_arena_storage[MCC_ARENA_SIZE + MCC_ARENA_ALIGN];

#ifdef MCC_TRACE
static FILE *s_trace = NULL;

void mcc_trace(int op_index, const void *data, size_t bytes)
{
    int32_t header[2];
    header[0] = (int32_t)op_index;
    header[1] = (int32_t)bytes;
    if (s_trace != NULL) {
        fwrite(header, sizeof header, 1, s_trace);
        fwrite(data, 1, bytes, s_trace);
    }
}
#endif

int main(int argc, char **argv)
{
    FILE *in;
    FILE *out;
    long n;
    long k;
    mcc_input_t *input = malloc(MCC_INPUT_BYTES);
    mcc_output_t *output = malloc(MCC_OUTPUT_BYTES);
    uint8_t *arena = s_arena_storage + (MCC_ARENA_ALIGN - (uintptr_t)s_arena_storage % MCC_ARENA_ALIGN) % MCC_ARENA_ALIGN;

    if (argc < 4 || input == NULL || output == NULL) {
        fprintf(stderr, "usage: %s INPUT.bin OUTPUT.bin N [TRACE.bin]\n", argv[0]);
        return 2;
    }
    n = strtol(argv[3], NULL, 10);
    in = fopen(argv[1], "rb");
    out = fopen(argv[2], "wb");
    if (in == NULL || out == NULL) {
        fprintf(stderr, "mcc_runner: cannot open %s or %s\n", argv[1], argv[2]);
        return 2;
    }
#ifdef MCC_TRACE
    if (argc > 4) {
        s_trace = fopen(argv[4], "wb");
    }
#endif
    if (mcc_model_init(arena) != MCC_OK) {
        fprintf(stderr, "mcc_runner: mcc_model_init failed\n");
        return 1;
    }
    for (k = 0; k < n; ++k) {
        mcc_status status;
        if (fread(input, 1, MCC_INPUT_BYTES, in) != MCC_INPUT_BYTES) {
            fprintf(stderr, "mcc_runner: short input at item %ld\n", k);
            return 2;
        }
        status = mcc_model_run(input, output);
        if (status != MCC_OK) {
            fprintf(stderr, "mcc_runner: mcc_model_run failed with status %d at item %ld\n", (int)status, k);
            return 1;
        }
        fwrite(output, 1, MCC_OUTPUT_BYTES, out);
    }
    fclose(in);
    fclose(out);
#ifdef MCC_TRACE
    if (s_trace != NULL) {
        fclose(s_trace);
    }
#endif
    free(input);
    free(output);
    return 0;
}
