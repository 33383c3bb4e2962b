/* quality.c — the quality hash: 32 greedy tokens after a fixed prompt,
 * hashed, so a change that alters what the model computes shows in one
 * number. Outside the forward pass, which it only calls. */
#include "engine/internal.h"

#include <stdlib.h>
#include <string.h>

uint64_t hst_tokens_hash(const int *ids, int n)
{
    uint64_t h = 0xcbf29ce484222325ull;
    for (int i = 0; i < n; i++) {
        uint32_t v = (uint32_t)ids[i];
        for (int b = 0; b < 4; b++) {
            h ^= (v >> (8 * b)) & 0xff;
            h *= 0x100000001b3ull;
        }
    }
    return h;
}

int hst_quality_hash(hst_session *s, uint64_t *hash, int *first_tokens, hst_error *err)
{
    const hst_config *cfg = NULL;
    int prompt[64], tokens[HST_QUALITY_TOKENS];
    const char *text = HST_QUALITY_PROMPT;
    int n_prompt = (int)strlen(text);
    for (int i = 0; i < n_prompt; i++)
        prompt[i] = (unsigned char)text[i];
    cfg = hst_session_config(s);
    if (cfg->vocab_size < 256 || cfg->max_seq_len < n_prompt + HST_QUALITY_TOKENS) {
        hst_set_error(err, "quality hash: needs vocab >= 256 and max_seq_len >= %d",
                      n_prompt + HST_QUALITY_TOKENS);
        return -1;
    }
    float *logits = malloc((size_t)cfg->vocab_size * sizeof *logits);
    if (!logits) {
        hst_set_error(err, "quality hash: out of memory");
        return -1;
    }
    hst_session_reset(s);
    int rc = hst_forward(s, prompt, n_prompt, logits, 0, err);
    for (int i = 0; rc == 0 && i < HST_QUALITY_TOKENS; i++) {
        tokens[i] = hst_argmax(logits, cfg->vocab_size);
        if (i + 1 < HST_QUALITY_TOKENS)
            rc = hst_forward(s, &tokens[i], 1, logits, 0, err);
    }
    free(logits);
    hst_session_reset(s);
    if (rc != 0)
        return -1;
    *hash = hst_tokens_hash(tokens, HST_QUALITY_TOKENS);
    if (first_tokens)
        memcpy(first_tokens, tokens, sizeof tokens);
    return 0;
}
