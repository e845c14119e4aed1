/*
 * check.c - introspection and invariant checks: statistics, the
 * fragmentation index, mm_check, mm_dump, and the MM_DEBUG poisoning.
 *
 * Everything here except the poisoning runs at quiescent points (no
 * allocator call in flight on any CPU); the arena locks are still taken so
 * that the checks read the lists under the same rules as the allocator.
 */
#include "mm/mm_int.h"

const char *frame_error_name(enum frame_error e)
{
    switch (e) {
    case FRAME_OK: return "ok";
    case FRAME_ERR_NOMEM: return "out of memory";
    case FRAME_ERR_IN_USE: return "in use";
    case FRAME_ERR_UNUSED: return "unused";
    case FRAME_ERR_UNIQUE: return "unique";
    case FRAME_ERR_BUSY: return "busy";
    case FRAME_ERR_OUT_OF_BOUND: return "out of bound";
    case FRAME_ERR_NOT_ALIGNED: return "not aligned";
    case FRAME_ERR_INVALID: return "invalid argument";
    }
    return "unknown error";
}

/* Quiescent-point access to an arena: the lock is taken (the *_locked
 * helpers assert it), then its statistics are put back so that looking at
 * the allocator does not show up as allocator work. */
static plat_irqstate_t quiet_lock(struct arena *a, struct mm_lock_stats *saved)
{
    *saved = a->lock.stats;
    return mm_lock_acquire(&a->lock);
}

static void quiet_unlock(struct arena *a, plat_irqstate_t s, const struct mm_lock_stats *saved)
{
    /* Still the holder: undo this acquisition's accounting, untimed. */
    a->lock.stats = *saved;
    a->lock.timed = false;
    mm_lock_release(&a->lock, s);
}

void mm_get_stats(struct mm_stats *out)
{
    __builtin_memset(out, 0, sizeof *out);
    for (unsigned i = 0; i < mm.n_arenas; i++) {
        struct arena *a = &mm_arenas[i];
        struct mm_lock_stats saved;
        plat_irqstate_t s = quiet_lock(a, &saved);
        for (unsigned o = 0; o <= MM_MAX_ORDER; o++)
            out->free_blocks[o] += a->free_blocks[o];
        out->free_frames += a->free_frames;
        out->reserve_frames += a->reserve_frames;
        quiet_unlock(a, s, &saved);
        out->lock.acquisitions += saved.acquisitions;
        out->lock.contended += saved.contended;
        out->lock.hold_cycles += saved.hold_cycles;
        out->lock.hold_samples += saved.hold_samples;
    }
    for (unsigned cpu = 0; cpu < mm.max_cpus; cpu++)
        out->cached_frames += pcp_cached_frames(&mm_pcp[cpu]);
    out->total_frames = mm.total_frames;
    out->allocated_frames = mm.total_frames - out->free_frames - out->cached_frames;
    out->arenas = mm.n_arenas;
    out->nodes = mm_numa_nodes();
    out->metadata_bytes = mm.metadata_bytes;
    out->cache_bound_frames = pcp_cache_bound();
    out->reserve_allocs = atomic_load_explicit(&mm_reserve_allocs, memory_order_relaxed);
    out->reserve_failures = atomic_load_explicit(&mm_reserve_failures, memory_order_relaxed);
}

void mm_lock_stats_reset(void)
{
    for (unsigned i = 0; i < mm.n_arenas; i++)
        mm_arenas[i].lock.stats = (struct mm_lock_stats){0};
}

double mm_fragmentation_index(unsigned order)
{
    struct mm_stats st;
    if (order > MM_MAX_ORDER)
        return 1.0;
    mm_get_stats(&st);
    if (st.free_frames == 0)
        return 1.0; /* no free memory: all of it (none) unusable, as Linux reports */
    uint64_t usable = 0;
    for (unsigned o = order; o <= MM_MAX_ORDER; o++)
        usable += st.free_blocks[o] << o;
    return (double)(st.free_frames - usable) / (double)st.free_frames;
}

/* Walks one arena's span slot by slot. */
static bool check_arena_walk(struct arena *a, uint64_t *free_out, uint64_t *cached_out,
                             uint64_t *alloc_out, char *err, size_t errlen)
{
    uint64_t free_frames = 0, cached = 0, allocated = 0, heads = 0, blocks = 0;
    for (unsigned o = 0; o <= MM_MAX_ORDER; o++)
        blocks += a->free_blocks[o];
    for (uint64_t pfn = a->base_pfn; pfn < a->end_pfn;) {
        struct frame *f = arena_frame(a, pfn);
        uint64_t v = frame_ref_read(f);
        uint32_t fl = frame_flags_get(f);
        char rc[48];
        uint64_t unit = 1;
        if (f->pfn != pfn || f->arena != a->index) {
            plat_snprintf(err, errlen, "slot of pa %#llx names pfn %#llx arena %u",
                          (unsigned long long)(pfn << PAGE_SHIFT), (unsigned long long)f->pfn,
                          f->arena);
            return false;
        }
        if (fl & FRAME_F_RESERVED) {
            pfn++;
            continue;
        }
        if (fl & FRAME_F_FREE) {
            unit = (uint64_t)1 << f->order;
            free_frames += unit;
            heads++;
        } else if (fl & FRAME_F_CACHED) {
            /* Order-0 frames from a refill keep a stale slot order; a
             * high-order head's slot and flags must agree. */
            unsigned co = FRAME_CACHED_ORDER(fl);
            if (co != 0 && (co != f->order || pcp_high_slot(co) < 0)) {
                plat_snprintf(err, errlen, "cached frame pa %#llx: flags %#x name order %u, "
                              "slot order %u", (unsigned long long)(pfn << PAGE_SHIFT), fl, co,
                              f->order);
                return false;
            }
            unit = (uint64_t)1 << co;
            cached += unit;
        } else if (fl & FRAME_F_ALLOCATED) {
            unit = (uint64_t)1 << f->order;
            allocated += unit;
        } else {
            plat_snprintf(err, errlen, "frame pa %#llx is neither free, cached, allocated nor "
                          "reserved: lost (refcount %s, flags %#x)",
                          (unsigned long long)(pfn << PAGE_SHIFT),
                          mm_refcount_name(v, rc, sizeof rc), fl);
            return false;
        }
        bool want_unused = !(fl & FRAME_F_ALLOCATED);
        bool ok = want_unused ? v == REF_UNUSED
                              : (v == REF_UNIQUE || (v >= 1 && v <= REF_MAX));
        if (!ok || pfn + unit > a->end_pfn) {
            plat_snprintf(err, errlen, "frame pa %#llx (flags %#x, order %u) has refcount %s%s",
                          (unsigned long long)(pfn << PAGE_SHIFT), fl, f->order,
                          mm_refcount_name(v, rc, sizeof rc),
                          ok ? " and runs past the arena" : "");
            return false;
        }
        for (uint64_t i = 1; i < unit; i++) {
            struct frame *t = f + i;
            uint64_t tv = frame_ref_read(t);
            if (tv != REF_UNUSED || (frame_flags_get(t) & ~FRAME_F_POISONED)) {
                plat_snprintf(err, errlen, "frame pa %#llx inside the %s block at pa %#llx has "
                              "refcount %s, flags %#x",
                              (unsigned long long)(t->pfn << PAGE_SHIFT),
                              (fl & FRAME_F_FREE)     ? "free"
                              : (fl & FRAME_F_CACHED) ? "cached"
                                                      : "allocated",
                              (unsigned long long)(pfn << PAGE_SHIFT),
                              mm_refcount_name(tv, rc, sizeof rc), frame_flags_get(t));
                return false;
            }
        }
        pfn += unit;
    }
    if (heads != blocks) {
        plat_snprintf(err, errlen, "arena %u: %llu frames flagged as free heads, lists hold %llu",
                      a->index, (unsigned long long)heads, (unsigned long long)blocks);
        return false;
    }
    *free_out = free_frames;
    *cached_out = cached;
    *alloc_out = allocated;
    return true;
}

/* One CPU's high-order lists: bounded, well formed, whole cached blocks. */
static bool check_high_lists(unsigned cpu, const struct pcp *p, uint64_t *total, char *err,
                             size_t errlen)
{
    for (unsigned i = 0; i < PCP_HIGH_SLOTS; i++) {
        unsigned o = pcp_high_order(i);
        uint64_t n = 0;
        if (p->high_count[i] > p->high_limit[i] || (!p->enabled && p->high_count[i])) {
            plat_snprintf(err, errlen, "cpu %u order-%u cache holds %u blocks (bound %u, %s)",
                          cpu, o, p->high_count[i], p->high_limit[i],
                          p->enabled ? "enabled" : "disabled");
            return false;
        }
        for (struct frame *f = p->high_head[i]; f; f = f->next) {
            char rc[48];
            uint64_t v = frame_ref_read(f);
            uint32_t fl = frame_flags_get(f);
            if (++n > p->high_count[i] || !mm_is_frame_ptr(f)) {
                plat_snprintf(err, errlen, "cpu %u order-%u cache list longer than its count "
                              "%u or holding a foreign pointer", cpu, o, p->high_count[i]);
                return false;
            }
            if (!(fl & FRAME_F_CACHED) || FRAME_CACHED_ORDER(fl) != o || f->order != o ||
                (f->pfn & (((uint64_t)1 << o) - 1)) || v != REF_UNUSED) {
                plat_snprintf(err, errlen, "cpu %u order-%u cache holds block pa %#llx with "
                              "flags %#x, order %u, refcount %s", cpu, o,
                              (unsigned long long)(f->pfn << PAGE_SHIFT), fl, f->order,
                              mm_refcount_name(v, rc, sizeof rc));
                return false;
            }
        }
        if (n != p->high_count[i]) {
            plat_snprintf(err, errlen, "cpu %u order-%u cache list has %llu blocks, count says "
                          "%u", cpu, o, (unsigned long long)n, p->high_count[i]);
            return false;
        }
        *total += n << o;
    }
    return true;
}

/* What the hit paths rely on without testing it (mm_int.h): pcp_none
 * offers no frame and no room, and no cache has a block or room on list
 * PCP_NO_LIST. */
static bool check_untested(char *err, size_t errlen)
{
    const unsigned char *b = (const unsigned char *)&pcp_none;
    for (size_t i = 0; i < sizeof pcp_none; i++)
        if (b[i]) {
            plat_snprintf(err, errlen, "pcp_none byte %u is %#x: the hit paths would find a "
                          "cache there", (unsigned)i, b[i]);
            return false;
        }
    for (unsigned cpu = 0; cpu < mm.max_cpus; cpu++) {
        const struct pcp *p = &mm_pcp[cpu];
        if (p->high_head[PCP_NO_LIST] || p->high_count[PCP_NO_LIST] ||
            p->high_limit[PCP_NO_LIST]) {
            plat_snprintf(err, errlen, "cpu %u: the list of the uncached orders holds %u "
                          "blocks (bound %u)", cpu, p->high_count[PCP_NO_LIST],
                          p->high_limit[PCP_NO_LIST]);
            return false;
        }
    }
    return true;
}

static bool check_caches(uint64_t cached_in_arenas, char *err, size_t errlen)
{
    uint64_t total = 0;
    if (!check_untested(err, errlen))
        return false;
    for (unsigned cpu = 0; cpu < mm.max_cpus; cpu++) {
        const struct pcp *p = &mm_pcp[cpu];
        uint64_t n = 0;
        if (p->count > p->capacity || (!p->enabled && p->count)) {
            plat_snprintf(err, errlen, "cpu %u cache holds %u frames (capacity %u, %s)", cpu,
                          p->count, p->capacity, p->enabled ? "enabled" : "disabled");
            return false;
        }
        for (struct frame *f = p->head; f; f = f->next) {
            char rc[48];
            uint64_t v = frame_ref_read(f);
            if (++n > p->count || !mm_is_frame_ptr(f)) {
                plat_snprintf(err, errlen, "cpu %u cache list longer than its count %u or "
                              "holding a foreign pointer", cpu, p->count);
                return false;
            }
            if (!(frame_flags_get(f) & FRAME_F_CACHED) || v != REF_UNUSED) {
                plat_snprintf(err, errlen, "cpu %u cache holds frame pa %#llx with flags %#x, "
                              "refcount %s", cpu, (unsigned long long)(f->pfn << PAGE_SHIFT),
                              frame_flags_get(f), mm_refcount_name(v, rc, sizeof rc));
                return false;
            }
        }
        if (n != p->count) {
            plat_snprintf(err, errlen, "cpu %u cache list has %llu frames, count says %u", cpu,
                          (unsigned long long)n, p->count);
            return false;
        }
        total += n;
        if (!check_high_lists(cpu, p, &total, err, errlen))
            return false;
    }
    if (total != cached_in_arenas) {
        plat_snprintf(err, errlen, "%llu frames flagged cached, cache lists hold %llu "
                      "(a frame on two lists, or flagged but lost)",
                      (unsigned long long)cached_in_arenas, (unsigned long long)total);
        return false;
    }
    return true;
}

bool mm_check(char *err, size_t errlen)
{
    char scratch[8];
    if (err == NULL || errlen == 0) {
        err = scratch;
        errlen = sizeof scratch;
    }
    err[0] = '\0';
    if (!mm.ready) {
        plat_snprintf(err, errlen, "mm_init has not succeeded");
        return false;
    }
    uint64_t free_sum = 0, cached_sum = 0, alloc_sum = 0;
    for (unsigned i = 0; i < mm.n_arenas; i++) {
        struct arena *a = &mm_arenas[i];
        uint64_t fr, ca, al;
        struct mm_lock_stats saved;
        char sub[200];
        plat_irqstate_t s = quiet_lock(a, &saved);
        bool ok = buddy_verify_locked(a, sub, sizeof sub) &&
                  check_arena_walk(a, &fr, &ca, &al, sub, sizeof sub);
        quiet_unlock(a, s, &saved);
        if (!ok) {
            plat_snprintf(err, errlen, "arena %u [%#llx, %#llx): %s", i,
                          (unsigned long long)(a->base_pfn << PAGE_SHIFT),
                          (unsigned long long)(a->end_pfn << PAGE_SHIFT), sub);
            return false;
        }
        if (fr != a->free_frames || fr + ca + al != a->managed_frames) {
            plat_snprintf(err, errlen, "arena %u: free %llu (lists say %llu) + cached %llu + "
                          "allocated %llu != managed %llu", i, (unsigned long long)fr,
                          (unsigned long long)a->free_frames, (unsigned long long)ca,
                          (unsigned long long)al, (unsigned long long)a->managed_frames);
            return false;
        }
        free_sum += fr;
        cached_sum += ca;
        alloc_sum += al;
    }
    if (!check_caches(cached_sum, err, errlen) || !antifrag_check(err, errlen))
        return false;
    if (free_sum + cached_sum + alloc_sum != mm.total_frames) {
        plat_snprintf(err, errlen, "free %llu + cached %llu + allocated %llu != total %llu",
                      (unsigned long long)free_sum, (unsigned long long)cached_sum,
                      (unsigned long long)alloc_sum, (unsigned long long)mm.total_frames);
        return false;
    }
    return true;
}

/* Per node: its arenas' frames and the fallback order its CPUs use (which
 * CPUs those are, the "numa:" boot lines say). */
static void dump_nodes(void)
{
    for (unsigned n = 0; n < mm.nodes; n++) {
        uint64_t managed = 0, free = 0;
        unsigned arenas = 0;
        for (unsigned i = 0; i < mm.n_arenas; i++)
            if (mm_arenas[i].node == n) {
                arenas++;
                managed += mm_arenas[i].managed_frames;
                free += mm_arenas[i].free_frames;
            }
        char order[4 * MM_MAX_ARENAS] = "";
        for (unsigned k = 0, len = 0; k < mm.n_arenas && len < sizeof order; k++)
            len += (unsigned)plat_snprintf(order + len, sizeof order - len, "%s%u", k ? "," : "",
                                           mm.node_arenas[n][k]);
        plat_log("mm:   node %u: %u arena(s), managed %llu free %llu, fallback arenas %s\n", n,
                 arenas, (unsigned long long)managed, (unsigned long long)free, order);
    }
}

void mm_dump(void)
{
    struct mm_stats st;
    mm_get_stats(&st);
    plat_log("mm: %u arenas, %llu frames (%llu MiB), metadata %llu KiB\n", st.arenas,
             (unsigned long long)st.total_frames, (unsigned long long)(st.total_frames >> 8),
             (unsigned long long)(st.metadata_bytes >> 10));
    for (unsigned i = 0; i < mm.n_arenas; i++) {
        const struct arena *a = &mm_arenas[i];
        plat_log("mm:   arena %u [%#llx, %#llx) node %u managed %llu free %llu\n", i,
                 (unsigned long long)(a->base_pfn << PAGE_SHIFT),
                 (unsigned long long)(a->end_pfn << PAGE_SHIFT), a->node,
                 (unsigned long long)a->managed_frames, (unsigned long long)a->free_frames);
    }
    if (st.nodes > 1)
        dump_nodes();
    plat_log("mm: free %llu cached %llu allocated %llu\n", (unsigned long long)st.free_frames,
             (unsigned long long)st.cached_frames, (unsigned long long)st.allocated_frames);
    for (unsigned o = 0; o <= MM_MAX_ORDER; o++)
        plat_log("mm:   order %2u: %8llu free blocks, unusable index %.3f\n", o,
                 (unsigned long long)st.free_blocks[o], mm_fragmentation_index(o));
    plat_log("mm: caches %s, capacity %u, batch %u, %u CPUs: at most %llu frames cached (%s)\n",
             mm.pcp_cfg.enabled ? "on" : "off", mm.pcp_cfg.capacity, mm.pcp_cfg.batch,
             mm.max_cpus, (unsigned long long)st.cache_bound_frames,
             mm.pcp_derived ? "derived" : "chosen");
    plat_log("mm: reserve %llu frames, %llu allocations served from it, %llu failed even so\n",
             (unsigned long long)st.reserve_frames, (unsigned long long)st.reserve_allocs,
             (unsigned long long)st.reserve_failures);
    for (unsigned cpu = 0; cpu < mm.max_cpus; cpu++) {
        struct pcp_stats ps;
        mm_pcp_stats(cpu, &ps);
        if (ps.hits + ps.misses + ps.frees + ps.cached + ps.remote_frees + ps.high_hits +
                ps.high_misses == 0)
            continue;
        const struct pcp *p = &mm_pcp[cpu];
        plat_log("mm:   cpu %u: cached %llu hits %llu misses %llu refills %llu drains %llu "
                 "frees %llu remote %llu\n", cpu, (unsigned long long)ps.cached,
                 (unsigned long long)ps.hits, (unsigned long long)ps.misses,
                 (unsigned long long)ps.refills, (unsigned long long)ps.drains,
                 (unsigned long long)ps.frees, (unsigned long long)ps.remote_frees);
        char blocks[16 * PCP_HIGH_SLOTS] = "";
        for (unsigned i = 0, len = 0; i < PCP_HIGH_SLOTS && len < sizeof blocks; i++)
            len += (unsigned)plat_snprintf(blocks + len, sizeof blocks - len, " o%u %u",
                                           pcp_high_order(i), p->high_count[i]);
        plat_log("mm:   cpu %u: high orders: blocks%s, hits %llu misses %llu\n", cpu, blocks,
                 (unsigned long long)ps.high_hits, (unsigned long long)ps.high_misses);
        if (mm.nodes > 1)
            plat_log("mm:   cpu %u: node %u (allocates from node %u): refills local %llu remote "
                     "%llu (%llu remote frames), remote buddy allocations %llu\n", cpu, p->node,
                     p->pref_node, (unsigned long long)ps.local_refills,
                     (unsigned long long)ps.remote_refills,
                     (unsigned long long)ps.remote_refill_frames,
                     (unsigned long long)ps.remote_buddy_allocs);
    }
    plat_log("mm: lock acquisitions %llu contended %llu hold cycles %llu (estimated from %llu "
             "timed)\n", (unsigned long long)st.lock.acquisitions,
             (unsigned long long)st.lock.contended, (unsigned long long)st.lock.hold_cycles,
             (unsigned long long)st.lock.hold_samples);
}

#if MM_DEBUG
void mm_debug_poison(struct frame *f, uint64_t n)
{
    __builtin_memset(plat_phys_to_virt(f->pfn << PAGE_SHIFT), MM_POISON_BYTE, n << PAGE_SHIFT);
    for (uint64_t i = 0; i < n; i++)
        frame_flags_set(&f[i], frame_flags_get(&f[i]) | FRAME_F_POISONED);
}

void mm_debug_check_poison(struct frame *f, uint64_t n)
{
    for (uint64_t i = 0; i < n; i++) {
        if (!(frame_flags_get(&f[i]) & FRAME_F_POISONED))
            continue;
        const uint64_t *w = plat_phys_to_virt(f[i].pfn << PAGE_SHIFT);
        const uint64_t pattern = 0x0101010101010101ull * MM_POISON_BYTE;
        for (unsigned k = 0; k < PAGE_SIZE / sizeof *w; k++)
            if (w[k] != pattern)
                PANIC("%s: frame pa %#llx written after free: offset %#x holds %#llx", __func__,
                      (unsigned long long)(f[i].pfn << PAGE_SHIFT), k * (unsigned)sizeof *w,
                      (unsigned long long)w[k]);
        frame_flags_set(&f[i], frame_flags_get(&f[i]) & ~FRAME_F_POISONED);
    }
}
#endif
