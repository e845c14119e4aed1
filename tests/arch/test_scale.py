#!/usr/bin/python3
"""Scale tests: NUMA topology, memory beyond the host's RAM, the limits the
host tools enforce.

  - SMP=8 with NUMA=2 and NUMA=4 (QEMU -numa): the kernel reads the SRAT and
    reports exactly the topology QEMU was given (CPUs and memory per node,
    distances), builds every arena on the node its memory belongs to (none
    spans a boundary), writes the topology to meta.csv, and the allocator's
    counters say every refill of pcp's node_local case came from the CPU's
    own node and every one of node_remote from another;
  - MEM=64G boots through the reserve=off memory backend on a host with far
    less free RAM than that, and reports the metadata set-up time;
  - RAM above the direct map's limit (lowered by test_paging_limit_gib) is a
    failed check (exit 35) with a message, not a panic;
  - qemu.py refuses what it cannot run, naming why: SMP above the system
    QEMU's limit (with its version), NUMA that does not split evenly or has
    more nodes than CPUs, a CPU model QEMU does not list, a MEM whose
    metadata the host cannot hold.

    test_scale.py --kernel build/kernel.elf --out build/test/scale
"""
import os
import re
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
sys.path.insert(0, os.path.join(ROOT, "tests", "harness"))
import boottest  # noqa: E402
import qemu  # noqa: E402
import testlib  # noqa: E402

PARALLEL = 2
TIMEOUT = 300
BIG_MEM = "64G"

NODE_LINE = re.compile(r"^numa: node (\d+) \(proximity domain (\d+)\): (\d+) CPU\(s\) "
                       r"\(APIC ids ([\d,-]+)\), (\d+) MiB in \d+ range\(s\), distances ([\d ]+)$",
                       re.M)
ARENA_LINE = re.compile(r"^mm:   arena \d+ \[0x([0-9a-f]+), 0x([0-9a-f]+)\) node (\d+)", re.M)
# pcp's NUMA rows as the kernel printed them (the per-point totals, no run=).
NUMA_ROW = re.compile(r"^pcp,(node_local|node_remote),(\d+),k=\d+;serve=\w+,"
                      r"(refills|local_refills|remote_refills|served_node_local_frac),([\d.]+),",
                      re.M)
META_TOPO = re.compile(r"^numa_topology,(.*)$", re.M)


def runs(values):
    """[0,1,2,5] -> "0-2,5" (the kernel's notation)."""
    out, i = [], 0
    while i < len(values):
        j = i
        while j + 1 < len(values) and values[j + 1] == values[j] + 1:
            j += 1
        out.append(str(values[i]) if i == j else f"{values[i]}-{values[j]}")
        i = j + 1
    return ",".join(out)


def topology(nodes):
    """The topology QEMU was given (qemu.numa_layout), read back exactly."""
    def check(boot):
        log = boot.result.log_text
        _, mem_bytes = qemu.parse_mem(boot.mem)
        layout = qemu.numa_layout(nodes, boot.smp, mem_bytes)
        found = NODE_LINE.findall(log)
        assert len(found) == nodes, f"{len(found)} node lines, expected {nodes}"
        for i, (first, count, size) in enumerate(layout):
            node, domain, ncpu, ids, mib, dist = found[i]
            want_dist = " ".join("10" if j == i else "20" for j in range(nodes))
            assert (int(node), int(domain), int(ncpu), ids, int(mib), dist) == \
                (i, i, count, runs(list(range(first, first + count))), size >> 20, want_dist), \
                f"node {i}: read back {found[i]}, QEMU was given CPUs {first}..{first + count - 1}, " \
                f"{size >> 20} MiB"
        assert re.search(rf"^numa: {nodes} node\(s\) from the SRAT", log, re.M), "no summary line"
        # Every arena on the node whose memory it holds (QEMU places node i's
        # memory after node i-1's, the PCI hole aside), none across a boundary.
        bounds = [sum(sz for _, _, sz in layout[:k]) for k in range(1, nodes)]
        arenas = ARENA_LINE.findall(log)
        assert arenas, "no arena lines"
        for lo, hi, node in arenas:
            lo, hi = int(lo, 16), int(hi, 16)
            for b in bounds:
                assert not (lo < b < hi), f"arena [{lo:#x}, {hi:#x}) spans the node boundary {b:#x}"
            want = sum(1 for b in bounds if lo >= b)
            assert int(node) == want, f"arena [{lo:#x}, {hi:#x}) on node {node}, expected {want}"
        assert re.search(rf"^mm: {nodes} NUMA nodes: each CPU refills from its own node first",
                         log, re.M), "the allocator was not given the CPUs' nodes"
        # The counters: node_local refills all from the CPU's node, node_remote
        # all from another, at 1 CPU and at all CPUs.
        rows = {}
        for case, cpus, metric, value in NUMA_ROW.findall(log):
            rows[(case, int(cpus), metric)] = float(value)
        for cpus in (1, boot.smp):
            refills = rows.get(("node_local", cpus, "refills"))
            assert refills, f"no node_local refills at {cpus} CPU(s): {sorted(rows)}"
            assert rows[("node_local", cpus, "local_refills")] == refills, rows
            assert rows[("node_local", cpus, "remote_refills")] == 0, rows
            assert rows[("node_local", cpus, "served_node_local_frac")] == 1, rows
            refills = rows.get(("node_remote", cpus, "refills"))
            assert refills, f"no node_remote refills at {cpus} CPU(s)"
            assert rows[("node_remote", cpus, "remote_refills")] == refills, rows
            assert rows[("node_remote", cpus, "local_refills")] == 0, rows
            assert rows[("node_remote", cpus, "served_node_local_frac")] == 0, rows
        meta = META_TOPO.findall(log)
        assert meta, "no numa_topology row in meta.csv"
        want = ";".join(f"node{i}:cpus={runs(list(range(f, f + c)))}:mem_mib={sz >> 20}:dist="
                        + "/".join("10" if j == i else "20" for j in range(nodes))
                        for i, (f, c, sz) in enumerate(layout))
        assert meta[0] == want, f"meta.csv numa_topology {meta[0]!r}, expected {want!r}"
        assert re.search(rf"^numa_nodes,{nodes}$", log, re.M), "no numa_nodes row"
        assert "@@VERDICT pass" in log, "the run did not pass"
    return check


def big_memory(boot):
    log = boot.result.log_text
    m = re.search(r"^mem: usable (\d+) MiB", log, re.M)
    assert m and int(m.group(1)) >= (64 << 10) - 64, f"usable memory line: {m and m.group(0)}"
    assert re.search(r"^mm: set-up \d+\.\d+ ms", log, re.M), "no metadata set-up time"
    assert "kernel: done" in log, "the kernel did not finish"


def report(boots):
    for b in boots:
        if b.result is None:
            continue
        m = re.search(r"^mm: set-up (\d+\.\d+) ms", b.result.log_text, re.M)
        meta = re.search(r"^mm: \d+ arenas, \d+ frames \((\d+) MiB\), metadata (\d+) KiB",
                         b.result.log_text, re.M)
        if m and meta:
            print(f"# scale: {b.name}: MEM={b.mem}: metadata {int(meta.group(2)) >> 10} MiB for "
                  f"{meta.group(1)} MiB, set-up {m.group(1)} ms guest time; boot "
                  f"{b.result.seconds:.1f} s wall (2 boots at a time, shared host)", flush=True)


def refusals(suite):
    """What qemu.validate_config must refuse, and what the message names."""
    cases = [
        ("numa_more_nodes_than_cpus", dict(smp=2, mem="1G", numa=4), r"NUMA=4: more nodes than CPUs"),
        ("numa_uneven_memory", dict(smp=4, mem="1025M", numa=2), r"does not split into 2 equal"),
        ("numa_not_a_number", dict(smp=4, mem="1G", numa="two"), r"NUMA='two'"),
        ("numa_too_many", dict(smp=16, mem="1G", numa=9), r"from 1 to 8"),
        ("cpu_model_unknown", dict(smp=1, mem="1G", cpu="pentium9"), r"knows no CPU model 'pentium9'"),
        ("smp_above_kernel_limit", dict(smp=1025, mem="1G"), r"from 1 to 1024"),
        ("mem_above_limit", dict(smp=1, mem="1001G"), r"between 64M and 1000G"),
    ]
    sys_v, _ = qemu.qemu_version(qemu.QEMU)
    if sys_v and sys_v < qemu.X2APIC_QEMU:
        cases.append(("smp_above_system_qemu", dict(smp=300, mem="1G", qemu="system"),
                      rf"the system QEMU {'.'.join(map(str, sys_v))} offers TCG guests at most 255"))
    for name, kw, pattern in cases:
        def check(kw=kw, pattern=pattern):
            args = dict(accel="tcg", icount=0)
            args.update(kw)
            try:
                qemu.validate_config(**args)
            except qemu.ConfigError as e:
                assert re.search(pattern, str(e)), f"message {str(e)!r} lacks /{pattern}/"
                return
            raise AssertionError(f"{kw} was accepted")
        suite.run(f"refuse/{name}", check)

    def host_cannot_hold_metadata():
        try:
            qemu.check_host_mem("1000G", 1000 << 30, available=8 << 30)
        except qemu.ConfigError as e:
            assert re.search(r"MEM=1000G: the guest writes 16\.1 GiB .* only 8\.0 GiB available",
                             str(e)), str(e)
            return
        raise AssertionError("1000G accepted with 8 GiB available")
    suite.run("refuse/mem_metadata_beyond_host", host_cannot_hold_metadata)

    def memory_backend_args():
        args = qemu.memory_args(4 << 30, 4, 2)
        assert args == ["-m", "4096M",
                        "-object", "memory-backend-ram,id=ram0,size=2048M,reserve=off",
                        "-numa", "node,nodeid=0,memdev=ram0,cpus=0-1",
                        "-object", "memory-backend-ram,id=ram1,size=2048M,reserve=off",
                        "-numa", "node,nodeid=1,memdev=ram1,cpus=2-3"], args
        assert "reserve=off" in " ".join(qemu.memory_args(64 << 30, 1, 0))
        pre = " ".join(qemu.memory_args(4 << 30, 4, 2, prealloc=True))
        assert pre.count("prealloc=on") == 2 and "reserve=off" not in pre, pre
    suite.run("qemu/memory_backend_args", memory_backend_args)

    def guest_ram_prealloc_rule():
        # Preallocated while it is a small share of what the host can give;
        # beyond that (MEM over the host's RAM) touched on demand.
        assert qemu.ram_prealloc(1 << 30, available=24 << 30)
        assert qemu.ram_prealloc(6 << 30, available=24 << 30)
        assert not qemu.ram_prealloc(7 << 30, available=24 << 30)
        assert not qemu.ram_prealloc(64 << 30, available=24 << 30)
    suite.run("qemu/guest_ram_prealloc_rule", guest_ram_prealloc_rule)


def Boot(name, smp, mem, cmdline, **kw):
    return boottest.Boot(name, smp, mem, cmdline, timeout=TIMEOUT, **kw)


BOOTS = [
    Boot("mem64g-backend", 2, BIG_MEM, "", check=big_memory),
    Boot("numa2-smp8", 8, "1G", "bench=smp,pcp profile=quick", numa=2, check=topology(2)),
    Boot("numa4-smp8", 8, "1G", "bench=smp,pcp profile=quick", numa=4, check=topology(4)),
    Boot("ram-above-limit", 1, "4G", "test_paging_limit_gib=2", expect="check-failed",
         check=boottest.expect_lines(
             r"^paging: the memory map reports RAM up to 0x[0-9a-f]+ .* below 0x80000000 "
             r"\(2 GiB, test_paging_limit_gib\): boot with less memory; stopping "
             r"\(exit check-failed\)$")),
]


def main():
    opts = boottest.parse_args()
    suite = testlib.Suite("scale")
    refusals(suite)
    runnable, _ = boottest.run_boots(suite, opts.kernel, opts.out, BOOTS, PARALLEL, "boot/")
    report(runnable)
    suite.exit()


if __name__ == "__main__":
    main()
