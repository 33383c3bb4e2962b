/* sampler.c — seeded random numbers, greedy and temperature/top-k sampling
 * (the token and quality hashes are quality.c's). */
#include "engine/internal.h"

#include <math.h>
#include <stdlib.h>

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void hst_rng_seed(uint64_t s[4], uint64_t seed)
{
    uint64_t x = seed;
    for (int i = 0; i < 4; i++)
        s[i] = splitmix64(&x);
}

static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }

uint64_t hst_rng_next(uint64_t s[4])
{
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

double hst_rng_uniform(uint64_t s[4])
{
    return (double)(hst_rng_next(s) >> 11) * 0x1.0p-53;
}

double hst_init_rng_normal(hst_init_rng *r)
{
    if (r->has_spare) {
        r->has_spare = 0;
        return r->spare;
    }
    double u1 = hst_rng_uniform(r->s), u2 = hst_rng_uniform(r->s);
    if (u1 < 1e-300)
        u1 = 1e-300;
    double radius = sqrt(-2.0 * log(u1)), angle = 2.0 * M_PI * u2;
    r->spare = radius * sin(angle);
    r->has_spare = 1;
    return radius * cos(angle);
}

void hst_sampler_init(hst_sampler *smp, float temperature, int top_k, uint64_t seed)
{
    smp->temperature = temperature;
    smp->top_k = top_k;
    hst_rng_seed(smp->rng, seed);
}

int hst_argmax(const float *logits, int n)
{
    int best = 0;
    for (int i = 1; i < n; i++)
        if (logits[i] > logits[best])
            best = i;
    return best;
}

/* Keeps the k largest (value, index) pairs sorted descending, ties by lower
 * index, by insertion: k is small (tens), the vocabulary is thousands. */
static int top_k_indices(const float *logits, int n, int k, int *idx)
{
    int have = 0;
    for (int i = 0; i < n; i++) {
        if (have == k && logits[i] <= logits[idx[k - 1]])
            continue;
        int pos = have < k ? have++ : k - 1;
        while (pos > 0 && logits[idx[pos - 1]] < logits[i]) {
            idx[pos] = idx[pos - 1];
            pos--;
        }
        idx[pos] = i;
    }
    return have;
}

int hst_sample(hst_sampler *smp, const float *logits, int n)
{
    if (smp->temperature <= 0.0f)
        return hst_argmax(logits, n);
    int k = (smp->top_k > 0 && smp->top_k < n) ? smp->top_k : n;
    int small_idx[256] = {0};
    int *idx = k <= 256 ? small_idx : calloc((size_t)k, sizeof *idx);
    if (!idx)
        return hst_argmax(logits, n);
    int have = n;
    if (k < n)
        have = top_k_indices(logits, n, k, idx);
    else
        for (int i = 0; i < n; i++)
            idx[i] = i;
    double max = logits[idx[0]];
    for (int i = 1; i < have; i++)
        if (logits[idx[i]] > max)
            max = logits[idx[i]];
    double sum = 0;
    for (int i = 0; i < have; i++)
        sum += exp((logits[idx[i]] - max) / smp->temperature);
    double r = hst_rng_uniform(smp->rng) * sum, acc = 0;
    int choice = idx[have - 1];
    for (int i = 0; i < have; i++) {
        acc += exp((logits[idx[i]] - max) / smp->temperature);
        if (r < acc) {
            choice = idx[i];
            break;
        }
    }
    if (idx != small_idx)
        free(idx);
    return choice;
}
