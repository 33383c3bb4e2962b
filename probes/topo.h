/* topo.h — the machine's topology (hwloc), where the engine's threads go,
 * and how many PUs this process may use. */
#ifndef PROBES_TOPO_H
#define PROBES_TOPO_H

#include "probes/probes.h"

#include <stdio.h>

/* ---- topology and affinity (hwloc) -------------------------------------- */

#define PROBES_MAX_THREADS 256

typedef struct probes_topo probes_topo;

probes_topo *probes_topo_load(char *err, size_t err_len);
/* A synthetic topology for tests and demos, e.g. "pack:2 l3:2 core:4 pu:2". */
probes_topo *probes_topo_synthetic(const char *description, char *err, size_t err_len);
void probes_topo_free(probes_topo *t);
int probes_topo_pu_count(const probes_topo *t);
int probes_topo_core_count(const probes_topo *t);
/* Total L3 bytes (sum over L3 caches); 0 when unknown. */
uint64_t probes_topo_l3_bytes(const probes_topo *t);

/* A data (or unified) cache level as hwloc reports it. */
typedef struct {
    int depth;              /* 1 for L1d, 2 for L2, ... */
    uint64_t size_bytes;    /* of one instance (the first); 0 unknown */
    int instances;
    int cores_per_instance; /* cores under one instance (at least 1) */
    const char *type;       /* "Data" or "Unified", as sysfs says */
} probes_topo_cache;
/* The data and unified caches, L1 first; returns how many (at most max). */
int probes_topo_caches(const probes_topo *t, probes_topo_cache *out, int max);
/* Sizes as the topology prints them: "2 MiB", "48 KiB", "1016 MiB". */
void probes_human_bytes(uint64_t bytes, char *buf, size_t len);

/* Compact lstopo-like text: packages, NUMA nodes, caches with sizes, cores,
 * PUs. thread_cpu[i] (OS index of thread i's CPU, -1 unknown) marks where
 * threads run; thread_cpu may be NULL. */
void probes_topo_print(const probes_topo *t, FILE *out, const int *thread_cpu, int n_threads);

/* Affinity policies (spec string):
 *   none     no binding.
 *   compact  cores in topology order, so the cores under one L3 and one
 *            package fill first; one thread per core on every core before
 *            any SMT sibling is used (siblings share the FMA units and the
 *            engine's kernels saturate them).
 *   scatter  consecutive threads alternate packages, then L3s within a
 *            package, then cores within an L3; SMT siblings again last.
 *   LIST     explicit PU OS indexes, e.g. "0,2,4-7"; thread i gets entry i.
 * More threads than PUs (or list entries): thread i wraps around to entry
 * i mod count, so PUs are shared. */
typedef struct probes_affinity probes_affinity;

/* t must outlive the affinity. NULL with one line in err for a bad policy,
 * a bad list, a PU that does not exist, or n_threads outside 1..PROBES_MAX_THREADS. */
probes_affinity *probes_affinity_create(const probes_topo *t, const char *spec, int n_threads,
                                        char *err, size_t err_len);
/* Restores the binding the thread that ran index 0 had before (call it on
 * that thread, after the pool is freed). */
void probes_affinity_free(probes_affinity *a);
const char *probes_affinity_policy(const probes_affinity *a); /* "none", "compact", ... */
int probes_affinity_threads(const probes_affinity *a);
/* OS index of the PU thread i is bound to; -1 for "none". */
int probes_affinity_pu(const probes_affinity *a, int thread_index);
/* 1 when threads share PUs (more threads than PUs or list entries). */
int probes_affinity_wrapped(const probes_affinity *a);

/* The thread-start callback (hst_thread_start_fn): binds the calling thread
 * with hwloc_set_cpubind(..., HWLOC_CPUBIND_THREAD). user = the affinity. */
void probes_affinity_bind_thread(int thread_index, void *user);
/* Whether thread i's binding succeeded (value 1), or why not. */
probes_metric probes_affinity_binding(const probes_affinity *a, int thread_index);

/* ---- the PU budget: more threads than PUs is a bad setting -----------------
 * Threads that share a PU take turns: their timings say nothing about how
 * the engine scales. run, bench, layerbench and the dashboard refuse it
 * unless --oversubscribe is given. The budget is the PUs this process may
 * run on (sched_getaffinity: taskset or a cgroup cpuset can make it smaller
 * than the machine), not the machine's PU count. */
typedef struct {
    int allowed; /* PUs in this process's allowed CPU set */
    int machine; /* PUs online in the machine */
} probes_pu_budget;

/* The budget of the calling process (at least 1 PU each). */
probes_pu_budget probes_pu_budget_get(void);
/* 1 when n_threads threads each get a PU of their own within the budget;
 * else 0 and why says how many PUs there are, e.g. "this machine has 2 PUs"
 * or "only 1 of this machine's 2 PUs is allowed to this process". */
int probes_threads_fit(int n_threads, probes_pu_budget b, char *why, size_t why_len);
/* Every placement check a command can make before it loads a model:
 * threads within 1..PROBES_MAX_THREADS, affinity a policy or a PU list
 * whose PUs exist on this machine (the empty string is refused), and,
 * unless oversubscribe, no two threads sharing a PU (more threads than the
 * budget, or than the distinct PUs of an affinity list). */
typedef struct {
    int threads;
    const char *threads_what;  /* how the user set it: "--threads 3", "x.ini:4: threads = 8" */
    const char *affinity;      /* none|compact|scatter|LIST */
    const char *affinity_what; /* "x.ini:5: affinity = 0,7"; NULL: "--affinity <affinity>" */
    int oversubscribe;         /* --oversubscribe: threads may share PUs */
} probes_placement;
/* 0 ok; -1 with one line in why (no command prefix), e.g. "--threads 3:
 * this machine has 2 PUs, so threads would share PUs and timings would not
 * scale; add --oversubscribe to run anyway". *shared (may be NULL) is set
 * to 1 when oversubscribe let threads share PUs. */
int probes_check_placement(const probes_placement *p, int *shared, char *why, size_t why_len);

#endif
