/*
 * mm.h - the frame allocator's public interface (the contract between mm/,
 * the kernel's boot code and bench/).  Internals live in mm/mm_int.h.
 *
 * A frame is a 4 KiB physical page; its handle is a pointer to its 64-byte
 * metadata slot (struct frame, see mm_int.h), found from a physical address by
 * PFN arithmetic.  Allocation order: the current CPU's cache first, the global
 * buddy allocator on a miss (batch refill: the CPU's NUMA node first, the
 * others by distance); frees go to the current CPU's cache and overflow
 * back in batches.  Order 1..3 and 9 units have per-CPU
 * block lists too (one block per miss, bounded; mm/pcp.c); contiguous
 * requests and the other orders go straight to the buddy allocator.
 *
 * Running out of frames is a result (NULL / FRAME_ERR_NOMEM) the caller
 * counts; corruption (double free, a free of a frame the allocator does not
 * own, a misaligned free, refcount overflow) panics naming the frame and the
 * state found.
 */
#ifndef MM_MM_H
#define MM_MM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "lib/phys_range.h"
#include "plat/platform.h"

#define MM_MAX_ORDER 10 /* largest buddy block: 2^10 frames = 4 MiB */
#define MM_MAX_ARENAS 32
#define MM_MAX_NODES 64    /* NUMA nodes (as many as the SRAT parser accepts) */
#define MM_NODE_LOCAL 10   /* SLIT distance of a node to itself */
#define MM_NODE_REMOTE 20  /* the distance assumed between nodes without a SLIT */

struct frame; /* metadata slot; opaque outside mm/ */

enum frame_error {
    FRAME_OK = 0,
    FRAME_ERR_NOMEM,         /* out of frames: not permanent, count and retry */
    FRAME_ERR_IN_USE,        /* from_unused on a frame in use */
    FRAME_ERR_UNUSED,        /* from_in_use on a free frame */
    FRAME_ERR_UNIQUE,        /* from_in_use on an exclusively owned frame */
    FRAME_ERR_BUSY,          /* being constructed or destroyed (from_unused: or held
                              * in another CPU's cache) */
    FRAME_ERR_OUT_OF_BOUND,  /* address outside every arena */
    FRAME_ERR_NOT_ALIGNED,   /* address not frame aligned */
    FRAME_ERR_INVALID,       /* bad argument (n == 0, alignment not a power of two, ...) */
};
const char *frame_error_name(enum frame_error e);

/* ---- initialisation ------------------------------------------------------ */

struct pcp_config {
    bool enabled;       /* false: every operation goes to the buddy allocator */
    unsigned capacity;  /* frames a CPU's cache holds at most; 0 (with batch 0):
                         * derived from memory size and CPU count */
    unsigned batch;     /* frames moved per refill / drain (<= capacity) */
};

/* The NUMA topology as the allocator uses it: which node each CPU sits on
 * and how far every node is from every other (ACPI SLIT units: 10 to
 * itself, more to others).  A CPU's cache refills, and its buddy
 * allocations come, from its own node first, then from the other nodes in
 * increasing distance (ties: lower node first), as Linux orders its
 * zonelists.  Nodes need not have memory (CPU-only nodes fall back by
 * distance like any other). */
struct mm_numa {
    unsigned nodes;                                 /* 1..MM_MAX_NODES */
    uint8_t distance[MM_MAX_NODES][MM_MAX_NODES];   /* [from][to] */
    uint16_t cpu_node[PLAT_MAX_CPUS];               /* by CPU index */
};

/* nodes nodes at MM_NODE_LOCAL / MM_NODE_REMOTE, every CPU on node 0. */
void mm_numa_default(struct mm_numa *numa, unsigned nodes);

struct mm_config {
    struct pcp_config pcp;
    unsigned max_cpus;  /* CPUs that use the allocator, one cache each
                         * (<= PLAT_MAX_CPUS; mm_set_cpus changes it) */
    /* Node of usable[i] for each range given to mm_init, or NULL: all on
     * node 0.  A parallel array rather than a field of struct phys_range:
     * that type also carries the reserved ranges, the page tables' and the
     * boot code's ranges, where a node means nothing, and a NULL here
     * leaves every caller without NUMA unchanged.  Ranges of different
     * nodes are never merged, even where they touch, so no arena spans two
     * nodes; ranges of different nodes must not overlap. */
    const unsigned *usable_node;
    /* Topology, or NULL: one node.  Copied; the CPU map may be given later
     * (mm_numa_configure), once the CPUs are known. */
    const struct mm_numa *numa;
};

/* Defaults: the geometry derived from memory and CPU count, and the CPUs
 * running now (plat_cpu_count()).  mm/pcp.c has the rule, the measurements
 * behind it and the limit a chosen geometry must respect: caches that could
 * hold more than a quarter of memory are refused. */
void mm_default_config(struct mm_config *cfg);

/* Builds arenas from the usable ranges minus the reserved ones (kernel image,
 * boot info, modules, trampoline ...), places the metadata array with a
 * boot-time bump allocator inside usable memory (and reserves it), and frees
 * every remaining frame into the buddy allocator.  Ranges need not be sorted
 * or page aligned (usable ones are shrunk inward, reserved ones grown
 * outward).  Returns false with a message in err when nothing usable remains
 * or the configuration is invalid. */
bool mm_init(const struct phys_range *usable, unsigned n_usable,
             const struct phys_range *reserved, unsigned n_reserved,
             const struct mm_config *cfg, char *err, size_t errlen);

/* Replaces the topology mm_init was given (same node count: the arenas'
 * nodes are fixed) and recomputes every node's fallback order; call only at
 * a quiescent point, e.g. once the CPUs are online and their nodes known.
 * Drains every cache.  false, with a message, on a bad table (node count
 * differs, a CPU's node out of range, a diagonal distance other than
 * MM_NODE_LOCAL, an off-diagonal one of MM_NODE_LOCAL or less). */
bool mm_numa_configure(const struct mm_numa *numa, char *err, size_t errlen);
unsigned mm_numa_nodes(void);           /* 1 without a topology */
unsigned mm_cpu_node(unsigned cpu);     /* the node cpu sits on */
/* SLIT distance between two nodes (MM_NODE_LOCAL to itself). */
unsigned mm_node_distance(unsigned from, unsigned to);
/* cpu's cache and buddy allocations are served in the fallback order of
 * `node` instead of its own node's (Linux's preferred-node policy), so a
 * benchmark can make one node's CPUs live on another node's memory; the
 * local/remote counters still compare with the node the CPU sits on.
 * MM_NODE_OWN restores the default.  Drains cpu's cache, so what it holds
 * next comes from the new order.  Call on cpu itself or at a quiescent
 * point.  false for a CPU without a cache or a node out of range. */
#define MM_NODE_OWN UINT32_MAX
bool mm_pcp_prefer_node(unsigned cpu, uint32_t node);

/* ---- single frames and the refcount protocol ---------------------------- */

#define FRAME_ZERO   (1u << 0) /* zero the memory */
#define FRAME_UNIQUE (1u << 1) /* hand out in the UNIQUE state instead of shared(1) */
/* An allocation that must not fail (interrupt handlers, the allocator's own
 * bookkeeping): when the caches and the free memory above the reserve are
 * exhausted it takes frames from the reserve that ordinary allocations leave
 * alone, before asking other CPUs for their cached frames (mm/buddy.c: the
 * reserve).  Counted in mm_stats.  frame_alloc / frame_alloc_order only. */
#define FRAME_RESERVE (1u << 2)

/* Hint: the unit will be held long (page tables, kernel objects: Linux's
 * unmovable pages).  With the anti-fragmentation policy on it is cut from a
 * per-CPU region kept for such units, apart from the short-lived frames of
 * the caches; with it off the hint is ignored. */
#define FRAME_LONG_LIVED (1u << 3)

/* One frame, refcount 1 (or UNIQUE); NULL when out of frames. */
struct frame *frame_alloc(unsigned flags);
/* Releases a frame the caller owns exclusively: UNIQUE by a plain store (no
 * atomic read-modify-write), a count of 1 by an atomic 1 -> 0 transition that
 * panics naming the frame when another holder took a reference meanwhile
 * (frame_from_in_use on its pa: release such frames with frame_drop) or
 * another CPU frees it at the same time ("double free").  Panics on any other
 * state. */
void frame_free(struct frame *f);

/* One naturally aligned block of 2^order frames (order <= MM_MAX_ORDER) as a
 * single unit, e.g. a 2 MiB huge page at order 9: the returned head frame
 * carries the refcount (1 or UNIQUE) for the whole block and remembers the
 * order; the other frames are not individually owned (they stay UNUSED, like
 * Linux's non-compound high-order pages), so the cost does not grow with the
 * order.  Release with frame_free / frame_drop on the head.  Order 0 is
 * frame_alloc.  NULL when out of frames; panics on order > MM_MAX_ORDER. */
struct frame *frame_alloc_order(unsigned order, unsigned flags);
unsigned frame_order(const struct frame *f); /* unit order of an allocated frame */

/* Claims the free frame at pa out of the buddy allocator (draining this CPU's
 * cache first if it holds the frame) and returns it with refcount 1, or
 * UNIQUE.  IN_USE / UNIQUE / BUSY when it is not free (BUSY also: held in
 * another CPU's cache), OUT_OF_BOUND / NOT_ALIGNED for bad addresses. */
enum frame_error frame_from_unused(uint64_t pa, bool unique, struct frame **out);
/* CAS loop; *retries (may be NULL) receives the failed CAS attempts. */
enum frame_error frame_from_in_use(uint64_t pa, struct frame **out, uint64_t *retries);
void frame_clone(struct frame *f);
/* Last drop tears down, stores UNUSED and returns the frame to this CPU's cache. */
void frame_drop(struct frame *f);
/* UNIQUE -> shared(1). */
void frame_unique_to_shared(struct frame *f);

uint64_t frame_pa(const struct frame *f);
unsigned frame_node(const struct frame *f);   /* the NUMA node of its memory */
void *frame_va(const struct frame *f);
uint64_t frame_refcount(const struct frame *f);  /* raw value, relaxed load */
/* Owner tag kept in the metadata: stamped on allocation by callers that want
 * handout checks (stress tests); 0 when never stamped. */
void frame_set_owner(struct frame *f, uint64_t owner);
uint64_t frame_owner(const struct frame *f);

/* ---- contiguous frames ---------------------------------------------------- */

/* n frames (any n >= 1) starting at a multiple of align frames (a power of
 * two); the excess of the covering buddy block is returned to the free lists.
 * Each frame is UNIQUE.  FRAME_ZERO zeroes them. */
enum frame_error frame_alloc_contig(uint64_t n, uint64_t align, unsigned flags, uint64_t *pa_out);
/* Frees exactly what frame_alloc_contig returned (same pa and n); checks every
 * frame's state and panics on a double free, a foreign address or a frame
 * still shared (frames converted to a count of 1 are released as frame_free
 * does), leaving every frame as it was. */
void frame_free_contig(uint64_t pa, uint64_t n);

/* ---- per-CPU caches ------------------------------------------------------- */

#define MM_PCP_MAX_CAPACITY 8192u
/* A chosen geometry is refused when mm_pcp_bound_frames(capacity) x CPUs
 * exceeds 1/MM_PCP_STRAND_LIMIT of the managed frames (mm/pcp.c: geometry). */
#define MM_PCP_STRAND_LIMIT 4u
/* The most frames one CPU's caches hold with this capacity: the order-0
 * capacity plus every high-order list at its bound. */
uint64_t mm_pcp_bound_frames(unsigned capacity);

/* Drains every cache and applies cfg; call only at a quiescent point (no
 * allocator calls in flight on any CPU).  false on an invalid configuration
 * (capacity outside 1..MM_PCP_MAX_CAPACITY, batch outside 1..capacity, or
 * caches that could hold more than a quarter of memory: mm/pcp.c).
 * Capacity and batch 0: the derived defaults. */
bool mm_pcp_configure(const struct pcp_config *cfg);
/* Quiescent point (e.g. once every CPU is online, before any of them calls
 * the allocator): `cpus` CPUs use the allocator from now on.  Drains every
 * cache, then sets the geometry for that count: *cfg when given, else the
 * one in effect (re-derived when it is the defaults).  false with a message
 * naming the worst case and the limit, and nothing changed, when that
 * geometry is refused or cpus is outside 1..PLAT_MAX_CPUS. */
bool mm_set_cpus(unsigned cpus, const struct pcp_config *cfg, char *err, size_t errlen);
void mm_pcp_get_config(struct pcp_config *cfg);
/* Returns this CPU's cached frames and blocks to the buddy allocator. */
void mm_pcp_drain_local(void);
/* Quiescent point only: drains every CPU's cache. */
void mm_pcp_drain_all(void);

struct pcp_stats {
    uint64_t hits;          /* order-0 allocations served from the cache */
    uint64_t misses;        /* order-0 allocations not served by the cache (all when off) */
    uint64_t refills;       /* batch refills from the buddy allocator */
    uint64_t drains;        /* batch drains to the buddy allocator */
    uint64_t frees;         /* order-0 frees into the cache */
    uint64_t remote_frees;  /* order-0 frees of frames another CPU allocated (on or off) */
    uint64_t cached;        /* frames in the cache now, high-order blocks included */
    uint64_t high_hits;     /* order 1..3 / 9 allocations served from the cache */
    uint64_t high_misses;   /* order 1..3 / 9 allocations that went to the buddy
                             * allocator with the cache on (one block each) */
    /* NUMA: against the node the CPU sits on (mm_cpu_node), whatever node
     * it prefers.  local_refills + remote_refills == refills. */
    uint64_t local_refills;         /* refills served by the CPU's node alone */
    uint64_t remote_refills;        /* refills that took frames from another node */
    uint64_t remote_refill_frames;  /* frames those brought from other nodes */
    uint64_t remote_buddy_allocs;   /* buddy allocations (cache misses that take one
                                     * block, caches off, high orders) served by
                                     * another node */
};
void mm_pcp_stats(unsigned cpu, struct pcp_stats *out);
void mm_pcp_stats_reset(void); /* quiescent point only */

/* ---- anti-fragmentation policy (mm/antifrag.c) --------------------------- */

/* Quiescent point only: drains every cache, forgets every reservation and
 * switches the policy (off after mm_init): with it on, each CPU's cache
 * refills are cut from one reserved 2 MiB block at a time, nearly full
 * blocks first, and full caches return frames of other blocks first.  The
 * reserved blocks' free frames stay in the buddy lists (any allocation may
 * take them), so out-of-memory is unchanged.  false before mm_init. */
bool mm_antifrag_set(bool on);
bool mm_antifrag_enabled(void);

struct mm_antifrag_stats {
    bool enabled;
    uint64_t reserved_regions;  /* reservations held now (two kinds per CPU) */
    uint64_t reservations;      /* regions reserved since mm_init */
    uint64_t region_frames;     /* refill frames cut from reserved regions */
    uint64_t fallback_frames;   /* refill frames the regions could not give (taken
                                 * from the buddy lists as with the policy off) */
    uint64_t foreign_drained;   /* frames of other regions a full cache gave back first */
    uint64_t long_frames;       /* frames of FRAME_LONG_LIVED units cut from their regions */
};
void mm_antifrag_stats(struct mm_antifrag_stats *out);
/* The 2 MiB region cpu has reserved for its refills (long_lived false) or
 * its FRAME_LONG_LIVED units (its physical address); false for none. */
bool mm_antifrag_reserved(unsigned cpu, bool long_lived, uint64_t *pa);

/* ---- introspection (quiescent points) ------------------------------------ */

struct mm_lock_stats {
    uint64_t acquisitions;
    uint64_t contended;     /* acquisitions that had to wait */
    uint64_t hold_cycles;   /* TSC cycles spent holding the lock: an unbiased
                             * estimate from a random 1-in-16 sample of the
                             * acquisitions (see mm/mm_int.h for why) */
    uint64_t hold_samples;  /* acquisitions actually timed */
};

struct mm_stats {
    uint64_t total_frames;      /* managed by the allocator */
    uint64_t free_frames;       /* in the buddy free lists */
    uint64_t cached_frames;     /* in per-CPU caches */
    uint64_t allocated_frames;  /* total - free - cached */
    uint64_t free_blocks[MM_MAX_ORDER + 1];
    unsigned arenas;
    unsigned nodes;
    uint64_t metadata_bytes;
    struct mm_lock_stats lock;  /* summed over arenas */
    uint64_t cache_bound_frames; /* most frames all caches can hold (geometry x CPUs) */
    uint64_t reserve_frames;    /* kept free for FRAME_RESERVE (summed over arenas) */
    uint64_t reserve_allocs;    /* blocks FRAME_RESERVE allocations took from below it */
    uint64_t reserve_failures;  /* FRAME_RESERVE allocations that failed even so */
};
void mm_get_stats(struct mm_stats *out);
void mm_lock_stats_reset(void);

/* Unusable free space index for an order (Gorman): the fraction of free
 * memory in blocks too small for a 2^order request; 0 = none, 1 = all. */
double mm_fragmentation_index(unsigned order);

/* Full consistency check at a quiescent point: conservation of frames, every
 * free or cached frame UNUSED and flagged free, free lists well formed and
 * coalesced.  false with a message naming the frame and the state found. */
bool mm_check(char *err, size_t errlen);

/* Prints the allocator's state (arenas, metadata, caches, free blocks per
 * order, fragmentation) through plat_log. */
void mm_dump(void);

#endif /* MM_MM_H */
