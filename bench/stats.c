/*
 * stats.c - order statistics, log-spaced histograms and the seeded RNG.
 *
 * Samples are sorted by heapsort: O(n log n) worst case, in place, no
 * recursion (the kernel's stacks are small and sample buffers hold up to
 * ~10^5 entries).
 *
 * Quantiles interpolate linearly between closest ranks (numpy's default,
 * R type 7): rank r = q * (n - 1); value = x[floor r] + frac(r) * (x[floor
 * r + 1] - x[floor r]).  So the median of an even count is the mean of the
 * two middle values and p0/p100 are the minimum and maximum.
 *
 * Histogram buckets are log-linear: values 0..3 have one bucket each; above,
 * each power of two [2^e, 2^(e+1)) is split into 4 equal buckets, so a
 * bucket's width is at most 25% of its lower bound.  Bucket i >= 4 covers
 * [(4 + s) << (e - 2), (5 + s) << (e - 2)) with e = 2 + (i - 4) / 4, s = i % 4.
 */
#include "bench/bench_int.h"

static void sift_down_u64(uint64_t *v, size_t root, size_t n)
{
    for (;;) {
        size_t child = 2 * root + 1;
        if (child >= n)
            return;
        if (child + 1 < n && v[child + 1] > v[child])
            child++;
        if (v[child] <= v[root])
            return;
        uint64_t t = v[root];
        v[root] = v[child];
        v[child] = t;
        root = child;
    }
}

void stats_sort_u64(uint64_t *v, size_t n)
{
    if (n < 2)
        return;
    for (size_t i = n / 2; i-- > 0;)
        sift_down_u64(v, i, n);
    for (size_t end = n - 1; end > 0; end--) {
        uint64_t t = v[0];
        v[0] = v[end];
        v[end] = t;
        sift_down_u64(v, 0, end);
    }
}

/* Per-run figures: at most BENCH_MAX_RUNS values, insertion sort serves. */
void stats_sort_double(double *v, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        double x = v[i];
        size_t j = i;
        for (; j > 0 && v[j - 1] > x; j--)
            v[j] = v[j - 1];
        v[j] = x;
    }
}

static double rank_of(size_t n, double q)
{
    if (q <= 0)
        return 0;
    if (q >= 1)
        return (double)(n - 1);
    return q * (double)(n - 1);
}

/* Where quantile q of n sorted values falls: the order statistics at or below
 * (lo) and above (hi) it, and the fraction of the way from lo to hi (0, with
 * hi == lo, when q falls on the last value or exactly on one). */
struct quantile_pos {
    size_t lo, hi;
    double frac;
};

static struct quantile_pos quantile_pos(size_t n, double q)
{
    double r = rank_of(n, q);
    size_t lo = (size_t)r;
    if (lo + 1 >= n)
        return (struct quantile_pos){n - 1, n - 1, 0};
    double frac = r - (double)lo;
    return (struct quantile_pos){lo, frac == 0 ? lo : lo + 1, frac};
}

/* Linear interpolation between the two order statistics; exact at frac 0. */
static double interpolate(double lo, double hi, double frac)
{
    if (frac == 0)
        return lo;
    return lo + frac * (hi - lo);
}

double stats_quantile_u64(const uint64_t *sorted, size_t n, double q)
{
    if (n == 0)
        return 0;
    struct quantile_pos p = quantile_pos(n, q);
    return interpolate((double)sorted[p.lo], (double)sorted[p.hi], p.frac);
}

double stats_quantile_double(const double *sorted, size_t n, double q)
{
    if (n == 0)
        return 0;
    struct quantile_pos p = quantile_pos(n, q);
    return interpolate(sorted[p.lo], sorted[p.hi], p.frac);
}

unsigned hist_bucket(uint64_t v)
{
    if (v < 4)
        return (unsigned)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v); /* 2^e <= v < 2^(e+1), e >= 2 */
    unsigned sub = (unsigned)(v >> (e - 2)) & 3u;
    return 4 + (e - 2) * 4 + sub;
}

void hist_bounds(unsigned bucket, uint64_t *lo, uint64_t *hi)
{
    if (bucket < 4) {
        *lo = bucket;
        *hi = bucket + 1u;
        return;
    }
    unsigned e = 2 + (bucket - 4) / 4, sub = (bucket - 4) % 4;
    *lo = (uint64_t)(4 + sub) << (e - 2);
    /* The last bucket's end (2^64) does not fit: saturate. */
    *hi = (e == 63 && sub == 3) ? UINT64_MAX : (uint64_t)(5 + sub) << (e - 2);
}

void hist_clear(struct histogram *h)
{
    __builtin_memset(h, 0, sizeof *h);
}

void hist_add(struct histogram *h, uint64_t v)
{
    h->count[hist_bucket(v)]++;
    h->total++;
}

uint64_t rng_split(uint64_t *state)
{
    uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    z ^= z >> 31;
    return z ? z : 0x9e3779b97f4a7c15ull; /* xorshift needs a non-zero state */
}
