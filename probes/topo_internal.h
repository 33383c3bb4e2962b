/* topo_internal.h — the topology handle, shared by topo.c and affinity.c. */
#ifndef PROBES_TOPO_INTERNAL_H
#define PROBES_TOPO_INTERNAL_H

#include "probes/internal.h"

#include <hwloc.h>

struct probes_topo {
    hwloc_topology_t topo;
    int synthetic; /* built from a description: binding is impossible */
};

#endif
