/*
 * srat.c - NUMA topology from the SRAT and SLIT (see srat.h for the rules).
 */
#include "arch/x86_64/srat.h"

#include "lib/acpi_tables.h"

/* SRAT records (ACPI 6.5 section 5.2.16). */
#define REC_OFF_TYPE 0
#define CPU_APIC_REC_LEN 16    /* type, len, domain0, apic id, flags32, sapic eid, domain1-3, clock */
#define CPU_APIC_OFF_DOMAIN_LO 2
#define CPU_APIC_OFF_ID 3
#define CPU_APIC_OFF_FLAGS 4
#define CPU_APIC_OFF_DOMAIN_HI 9 /* three bytes: domain bits 8..31 */
#define MEM_REC_LEN 40         /* type, len, domain32, rsvd16, base64, length64, rsvd32, flags32, rsvd64 */
#define MEM_OFF_DOMAIN 2
#define MEM_OFF_BASE 8
#define MEM_OFF_LENGTH 16
#define MEM_OFF_FLAGS 28
#define X2APIC_REC_LEN 24      /* type, len, rsvd16, domain32, x2apic id32, flags32, clock32, rsvd32 */
#define X2APIC_OFF_DOMAIN 4
#define X2APIC_OFF_ID 8
#define X2APIC_OFF_FLAGS 12
/* SLIT (section 5.2.17). */
#define SLIT_OFF_COUNT 36
#define SLIT_MAX_LOCALITIES 256 /* more is taken as corrupt */

static const struct acpi_record_kind srat_kind[] = {
    {SRAT_CPU_APIC, CPU_APIC_REC_LEN, "Processor Local APIC Affinity"},
    {SRAT_MEMORY, MEM_REC_LEN, "Memory Affinity"},
    {SRAT_CPU_X2APIC, X2APIC_REC_LEN, "Processor Local x2APIC Affinity"},
};
static const struct acpi_record_kinds srat_kinds = ACPI_RECORD_KINDS("SRAT", srat_kind);

/* Domains seen, in a bitmap: nodes are numbered once the whole table is read. */
struct domains {
    uint64_t seen; /* SRAT_MAX_DOMAINS == 64 */
};
_Static_assert(SRAT_MAX_DOMAINS == 64, "struct domains is one 64-bit word");

static bool domain_ok(uint32_t domain, size_t off, uint8_t type, char *msg, size_t msglen)
{
    if (domain < SRAT_MAX_DOMAINS)
        return true;
    acpi_msg_add(msg, msglen,
                 "acpi: SRAT: %s record (type %u) at offset %zu names proximity domain %u, "
                 "outside 0..%u",
                 acpi_record_name(&srat_kinds, type), type, off, domain, SRAT_MAX_DOMAINS - 1);
    return false;
}

static bool add_cpu(struct numa_topology *t, uint32_t apic_id, uint32_t domain, size_t off,
                    char *msg, size_t msglen)
{
    for (unsigned i = 0; i < t->cpu_count; i++) {
        if (t->cpu[i].apic_id == apic_id) {
            acpi_msg_add(msg, msglen, "acpi: SRAT: APIC id %u listed again at offset %zu",
                         apic_id, off);
            return false;
        }
    }
    if (t->cpu_count == SRAT_MAX_CPUS) {
        acpi_msg_add(msg, msglen, "acpi: SRAT: more than %u processor entries", SRAT_MAX_CPUS);
        return false;
    }
    t->cpu[t->cpu_count].apic_id = apic_id;
    t->cpu[t->cpu_count].node = domain; /* a domain until number_nodes() */
    t->cpu_count++;
    return true;
}

static bool add_mem(struct numa_topology *t, uint64_t base, uint64_t len, uint32_t domain,
                    bool hotplug, size_t off, char *msg, size_t msglen)
{
    if (len == 0)
        return true; /* nothing to place */
    if (base + len < base) {
        acpi_msg_add(msg, msglen,
                     "acpi: SRAT: memory range at offset %zu (0x%llx + 0x%llx) wraps around",
                     off, (unsigned long long)base, (unsigned long long)len);
        return false;
    }
    uint64_t end = base + len;
    for (unsigned i = 0; i < t->mem_count; i++) {
        const struct srat_mem *m = &t->mem[i];
        if (base < m->end && m->base < end) {
            acpi_msg_add(msg, msglen,
                         "acpi: SRAT: memory range 0x%llx-0x%llx at offset %zu overlaps "
                         "0x%llx-0x%llx of an earlier entry",
                         (unsigned long long)base, (unsigned long long)end, off,
                         (unsigned long long)m->base, (unsigned long long)m->end);
            return false;
        }
    }
    if (t->mem_count == SRAT_MAX_MEM) {
        acpi_msg_add(msg, msglen, "acpi: SRAT: more than %u memory ranges", SRAT_MAX_MEM);
        return false;
    }
    t->mem[t->mem_count++] = (struct srat_mem){base, end, domain, hotplug};
    return true;
}

/* Dense node numbers in ascending domain order; CPU and memory entries,
 * which hold domains until now, get their node. */
static void number_nodes(struct numa_topology *t, struct domains d)
{
    unsigned node_of[SRAT_MAX_DOMAINS];
    t->nodes = 0;
    for (unsigned dom = 0; dom < SRAT_MAX_DOMAINS; dom++) {
        if (d.seen >> dom & 1) {
            node_of[dom] = t->nodes;
            t->domain[t->nodes++] = dom;
        }
    }
    for (unsigned i = 0; i < t->cpu_count; i++)
        t->cpu[i].node = node_of[t->cpu[i].node];
    for (unsigned i = 0; i < t->mem_count; i++)
        t->mem[i].node = node_of[t->mem[i].node];
    for (unsigned a = 0; a < t->nodes; a++)
        for (unsigned b = 0; b < t->nodes; b++)
            t->distance[a][b] = a == b ? SLIT_LOCAL : SLIT_REMOTE_DEFAULT;
}

/* One record; false when it makes the table untrustworthy. */
static bool srat_record(struct numa_topology *t, struct domains *d, const uint8_t *rec,
                        size_t off, char *msg, size_t msglen)
{
    uint8_t type = rec[REC_OFF_TYPE];
    uint32_t domain, flags, id;
    switch (type) {
    case SRAT_CPU_APIC:
        flags = acpi_rd32(rec + CPU_APIC_OFF_FLAGS);
        domain = rec[CPU_APIC_OFF_DOMAIN_LO] |
                 (uint32_t)rec[CPU_APIC_OFF_DOMAIN_HI] << 8 |
                 (uint32_t)rec[CPU_APIC_OFF_DOMAIN_HI + 1] << 16 |
                 (uint32_t)rec[CPU_APIC_OFF_DOMAIN_HI + 2] << 24;
        id = rec[CPU_APIC_OFF_ID];
        break;
    case SRAT_CPU_X2APIC:
        flags = acpi_rd32(rec + X2APIC_OFF_FLAGS);
        domain = acpi_rd32(rec + X2APIC_OFF_DOMAIN);
        id = acpi_rd32(rec + X2APIC_OFF_ID);
        break;
    case SRAT_MEMORY:
        flags = acpi_rd32(rec + MEM_OFF_FLAGS);
        domain = acpi_rd32(rec + MEM_OFF_DOMAIN);
        id = 0;
        break;
    default:
        t->other_records++;
        return true;
    }
    if (!(flags & SRAT_ENABLED)) {
        t->disabled++;
        return true;
    }
    if (!domain_ok(domain, off, type, msg, msglen))
        return false;
    d->seen |= (uint64_t)1 << domain;
    if (type == SRAT_MEMORY)
        return add_mem(t, acpi_rd64(rec + MEM_OFF_BASE), acpi_rd64(rec + MEM_OFF_LENGTH), domain,
                       flags & SRAT_MEM_HOTPLUG, off, msg, msglen);
    return add_cpu(t, id, domain, off, msg, msglen);
}

bool srat_parse(const void *table, size_t avail, struct numa_topology *out, char *msg,
                size_t msglen)
{
    const uint8_t *t = table;
    __builtin_memset(out, 0, sizeof *out);
    uint32_t len = acpi_table_check(table, avail, "SRAT", SRAT_HEADER_LEN, msg, msglen);
    if (len == 0)
        return false;
    struct domains d = {0};
    size_t off = SRAT_HEADER_LEN;
    const uint8_t *rec;
    int r;
    while ((r = acpi_next_record(t, len, &off, &rec, &srat_kinds, msg, msglen)) > 0) {
        if (!srat_record(out, &d, rec, (size_t)(rec - t), msg, msglen))
            return false;
    }
    if (r < 0)
        return false;
    number_nodes(out, d);
    return true;
}

bool srat_parse_slit(const void *table, size_t avail, struct numa_topology *topo, char *msg,
                     size_t msglen)
{
    const uint8_t *t = table;
    uint32_t len = acpi_table_check(table, avail, "SLIT", SLIT_HEADER_LEN, msg, msglen);
    if (len == 0)
        return false;
    uint64_t count = acpi_rd64(t + SLIT_OFF_COUNT);
    if (count > SLIT_MAX_LOCALITIES || SLIT_HEADER_LEN + count * count != len) {
        acpi_msg_add(msg, msglen,
                     "acpi: SLIT: %llu localities need %llu bytes, the table has %u",
                     (unsigned long long)count,
                     (unsigned long long)(SLIT_HEADER_LEN + count * count), len);
        return false;
    }
    const uint8_t *m = t + SLIT_HEADER_LEN;
    for (uint64_t i = 0; i < count; i++) {
        for (uint64_t j = 0; j < count; j++) {
            uint8_t v = m[i * count + j];
            if ((i == j && v != SLIT_LOCAL) || (i != j && v <= SLIT_LOCAL)) {
                acpi_msg_add(msg, msglen,
                             "acpi: SLIT: distance %u from locality %llu to %llu; must be %u on "
                             "the diagonal and more than %u elsewhere",
                             v, (unsigned long long)i, (unsigned long long)j, SLIT_LOCAL,
                             SLIT_LOCAL);
                return false;
            }
        }
    }
    for (unsigned n = 0; n < topo->nodes; n++) {
        if (topo->domain[n] >= count) {
            acpi_msg_add(msg, msglen,
                         "acpi: SLIT: %llu localities, but the SRAT uses proximity domain %u",
                         (unsigned long long)count, topo->domain[n]);
            return false;
        }
    }
    for (unsigned a = 0; a < topo->nodes; a++)
        for (unsigned b = 0; b < topo->nodes; b++)
            topo->distance[a][b] = m[topo->domain[a] * count + topo->domain[b]];
    topo->slit = true;
    return true;
}

int srat_cpu_node(const struct numa_topology *topo, uint32_t apic_id)
{
    for (unsigned i = 0; i < topo->cpu_count; i++)
        if (topo->cpu[i].apic_id == apic_id)
            return (int)topo->cpu[i].node;
    return -1;
}

uint64_t srat_node_bytes(const struct numa_topology *topo, unsigned node)
{
    uint64_t sum = 0;
    for (unsigned i = 0; i < topo->mem_count; i++)
        if (topo->mem[i].node == node && !topo->mem[i].hotplug)
            sum += topo->mem[i].end - topo->mem[i].base;
    return sum;
}
