/* live_ring.c — the single-producer single-consumer sample ring between the
 * engine thread and the probes thread. Lock-free with C11 atomics: the
 * producer owns head, the consumer owns tail; each publishes its index with
 * release and reads the other's with acquire, so a slot's contents are
 * visible before its index is. */
#include "probes/ring.h"

#include <stdalign.h>
#include <stdatomic.h>
#include <stdlib.h>

struct live_ring {
    size_t mask;
    live_sample *slots;
    /* Separate cache lines: the two threads write these at token rate. */
    alignas(64) _Atomic size_t head;  /* next slot to write; producer only */
    alignas(64) _Atomic size_t tail;  /* next slot to read; consumer only */
    alignas(64) _Atomic uint64_t dropped;
};

live_ring *live_ring_create(size_t capacity)
{
    size_t cap = 2;
    while (cap < capacity && cap < ((size_t)1 << 30))
        cap <<= 1;
    live_ring *r = aligned_alloc(64, sizeof(live_ring)); /* a multiple of 64: its members are */
    if (!r)
        return NULL;
    r->slots = calloc(cap, sizeof *r->slots);
    if (!r->slots) {
        free(r);
        return NULL;
    }
    r->mask = cap - 1;
    atomic_init(&r->head, 0);
    atomic_init(&r->tail, 0);
    atomic_init(&r->dropped, 0);
    return r;
}

void live_ring_free(live_ring *r)
{
    if (!r)
        return;
    free(r->slots);
    free(r);
}

size_t live_ring_capacity(const live_ring *r)
{
    return r->mask + 1;
}

int live_ring_push(live_ring *r, const live_sample *s)
{
    size_t head = atomic_load_explicit(&r->head, memory_order_relaxed);
    size_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
    if (head - tail > r->mask) {
        atomic_fetch_add_explicit(&r->dropped, 1, memory_order_relaxed);
        return -1;
    }
    r->slots[head & r->mask] = *s;
    atomic_store_explicit(&r->head, head + 1, memory_order_release);
    return 0;
}

int live_ring_pop(live_ring *r, live_sample *out)
{
    size_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    size_t head = atomic_load_explicit(&r->head, memory_order_acquire);
    if (tail == head)
        return 0;
    *out = r->slots[tail & r->mask];
    atomic_store_explicit(&r->tail, tail + 1, memory_order_release);
    return 1;
}

uint64_t live_ring_dropped(const live_ring *r)
{
    return atomic_load_explicit(&r->dropped, memory_order_relaxed);
}

size_t live_ring_size(const live_ring *r)
{
    size_t head = atomic_load_explicit(&r->head, memory_order_acquire);
    size_t tail = atomic_load_explicit(&r->tail, memory_order_acquire);
    return head - tail;
}
