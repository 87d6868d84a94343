//! A literal port of daisy 1.x's tiling, ready surface and scheduler (docs/semantics.md#tiling, #scheduling), in
//! world units with sets and full enumeration: slow, obvious, and independent of the core's
//! grid arithmetic. Inter-task dependencies use the corrected relation of docs/semantics.md#tasks-that-depend-on-tasks by brute force.

#![allow(dead_code)]

use std::collections::{HashMap, HashSet, VecDeque};

use daisy_core::{BlockStatus, Fit, cantor_number};
use daisy_geometry::{Coordinate, Roi};

pub type Id = (usize, u64);

#[derive(Debug, Clone)]
pub struct RefBlock {
    pub task: usize,
    pub id: u64,
    pub read: Roi,
    pub write: Roi,
}

#[derive(Debug, Clone)]
pub struct RefTask {
    pub read: Roi,
    pub write: Roi,
    pub total_read: Roi,
    pub conflict: bool,
    pub fit: Fit,
    pub max_retries: u32,
    pub upstream: Vec<usize>,
}

fn c(v: &[i64]) -> Coordinate {
    Coordinate::new(v).unwrap()
}
fn vals(c: &Coordinate) -> Vec<i64> {
    c.iter().map(|x| x.unwrap()).collect()
}
fn floor_mod(a: i64, b: i64) -> i64 {
    a.rem_euclid(b)
}

pub struct RefGraph {
    pub t: RefTask,
    pub total_write: Roi,
    pub stride: Vec<i64>,
    pub level_offsets: Vec<Vec<i64>>,
    pub conflicts: Vec<Vec<Vec<i64>>>,
    pub empty: bool,
}

fn product(lists: &[Vec<i64>]) -> Vec<Vec<i64>> {
    let mut out = vec![vec![]];
    for list in lists {
        let mut next = Vec::new();
        for prefix in &out {
            for &x in list {
                let mut p = prefix.clone();
                p.push(x);
                next.push(p);
            }
        }
        out = next;
    }
    out
}

impl RefGraph {
    pub fn new(t: RefTask) -> Self {
        let ul = vals(&t.write.begin().sub(&t.read.begin()).unwrap());
        let lr = vals(&t.read.end().sub(&t.write.end()).unwrap());
        let total_write = t
            .total_read
            .grow(&c(&ul).neg().unwrap(), &c(&lr).neg().unwrap())
            .unwrap();
        let e = vals(&total_write.shape());
        let w = vals(&t.write.shape());
        let dims = w.len();
        let mut stride = vec![0; dims];
        let mut empty = false;
        for d in 0..dims {
            stride[d] = if t.conflict {
                let m = ul[d].max(lr[d]);
                -(-(m + w[d])).div_euclid(w[d]) * w[d]
            } else {
                w[d]
            };
            let e_prime = if t.fit == Fit::Valid {
                e[d] - floor_mod(e[d], w[d])
            } else {
                e[d] + floor_mod(-e[d], w[d])
            };
            if e_prime <= 0 {
                empty = true;
            }
            stride[d] = stride[d].min(e_prime).max(w[d]);
        }
        let per_dim: Vec<Vec<i64>> = (0..dims)
            .map(|d| (0..stride[d]).step_by(w[d] as usize).collect())
            .collect();
        let mut level_offsets = product(&per_dim);
        level_offsets.reverse();
        let mut conflicts = vec![vec![]];
        for l in 1..level_offsets.len() {
            if !t.conflict {
                conflicts.push(vec![]);
                continue;
            }
            let cands: Vec<Vec<i64>> = (0..dims)
                .map(|d| {
                    let op = level_offsets[l - 1][d] - level_offsets[l][d];
                    let ls = stride[d];
                    if op < 0 {
                        vec![op, op + ls]
                    } else if op == 0 {
                        vec![op]
                    } else {
                        vec![op - ls, op]
                    }
                })
                .collect();
            conflicts.push(product(&cands));
        }
        Self {
            t,
            total_write,
            stride,
            level_offsets,
            conflicts,
            empty,
        }
    }

    fn make_block(&self, task: usize, read: Roi, write: Roi) -> RefBlock {
        let w = vals(&self.t.write.shape());
        let rel = vals(&write.begin().sub(&self.t.total_read.begin()).unwrap());
        let index: Vec<i64> = rel.iter().zip(&w).map(|(r, w)| r / w).collect(); // truncating
        let id = cantor_number(&index).unwrap();
        let mut b = RefBlock {
            task,
            id,
            read,
            write,
        };
        if self.t.fit == Fit::Shrink {
            b.write = self.total_write.intersect(&b.write).unwrap();
            b.read = self.t.total_read.intersect(&b.read).unwrap();
        }
        b
    }

    fn included(&self, write: &Roi) -> bool {
        match self.t.fit {
            Fit::Valid => self.total_write.contains(write),
            _ => self.total_write.contains_coordinate(&write.begin()),
        }
    }

    pub fn level_blocks(&self, task: usize, level: usize) -> Vec<RefBlock> {
        if self.empty {
            return vec![];
        }
        let e = vals(&self.total_write.shape());
        let w = vals(&self.t.write.shape());
        let dims = w.len();
        let lo = &self.level_offsets[level];
        let per_dim: Vec<Vec<i64>> = (0..dims)
            .map(|d| {
                let r = if self.t.fit == Fit::Valid { w[d] } else { 1 };
                let mut v = vec![];
                let mut o = lo[d];
                while o <= e[d] - r {
                    v.push(o);
                    o += self.stride[d];
                }
                v
            })
            .collect();
        product(&per_dim)
            .into_iter()
            .map(|o| {
                let shift = self
                    .t
                    .total_read
                    .begin()
                    .add(&c(&o))
                    .unwrap()
                    .sub(&self.t.read.begin())
                    .unwrap();
                self.make_block(
                    task,
                    self.t.read.shift(&shift).unwrap(),
                    self.t.write.shift(&shift).unwrap(),
                )
            })
            .collect()
    }

    pub fn all_blocks(&self, task: usize) -> Vec<RefBlock> {
        (0..self.level_offsets.len())
            .flat_map(|l| self.level_blocks(task, l))
            .collect()
    }

    fn level_of(&self, b: &RefBlock) -> usize {
        // 1.x uses the read ROI's begin, which is the same offset; with `shrink` the read ROI
        // can be cut away entirely (1.x then crashes), the write ROI's begin always exists.
        let rel = vals(&b.write.begin().sub(&self.total_write.begin()).unwrap());
        let m: Vec<i64> = rel
            .iter()
            .zip(&self.stride)
            .map(|(r, s)| floor_mod(*r, *s))
            .collect();
        self.level_offsets.iter().position(|o| *o == m).unwrap()
    }

    fn neighbours(&self, b: &RefBlock, offsets: &[Vec<i64>], sign: i64) -> Vec<RefBlock> {
        let mut out: Vec<RefBlock> = Vec::new();
        for off in offsets {
            let off: Vec<i64> = off.iter().map(|x| x * sign).collect();
            let read_begin = b
                .write
                .begin()
                .sub(&self.t.write.begin())
                .unwrap()
                .add(&self.t.read.begin())
                .unwrap();
            let read = Roi::new(read_begin.add(&c(&off)).unwrap(), self.t.read.shape()).unwrap();
            // The write ROI begins where the unshrunk one did (shrink keeps begins).
            let write =
                Roi::new(b.write.begin().add(&c(&off)).unwrap(), self.t.write.shape()).unwrap();
            if self.included(&write) {
                let n = self.make_block(b.task, read, write);
                if !out.iter().any(|x| x.id == n.id) {
                    out.push(n);
                }
            }
        }
        out
    }

    pub fn upstream(&self, b: &RefBlock) -> Vec<RefBlock> {
        let level = self.level_of(b);
        self.neighbours(b, &self.conflicts[level], 1)
    }

    pub fn downstream(&self, b: &RefBlock) -> Vec<RefBlock> {
        let level = self.level_of(b);
        if level + 1 >= self.level_offsets.len() {
            return vec![];
        }
        self.neighbours(b, &self.conflicts[level + 1], -1)
    }
}

/// The corrected inter-task relation of docs/semantics.md#tasks-that-depend-on-tasks.
pub fn related(u_graph: &RefGraph, u: &RefBlock, d: &RefBlock) -> bool {
    let clipped = u.write.intersect(&u_graph.total_write).unwrap();
    clipped.intersects(&d.read).unwrap()
}

pub struct RefDeps {
    pub graphs: Vec<RefGraph>,
    pub blocks: Vec<Vec<RefBlock>>,
    pub by_id: HashMap<Id, RefBlock>,
    up: HashMap<Id, Vec<Id>>,
    down: HashMap<Id, Vec<Id>>,
}

impl RefDeps {
    pub fn new(tasks: Vec<RefTask>) -> Self {
        let graphs: Vec<RefGraph> = tasks.into_iter().map(RefGraph::new).collect();
        let blocks: Vec<Vec<RefBlock>> = graphs
            .iter()
            .enumerate()
            .map(|(t, g)| g.all_blocks(t))
            .collect();
        let by_id: HashMap<Id, RefBlock> = blocks
            .iter()
            .flatten()
            .map(|b| ((b.task, b.id), b.clone()))
            .collect();
        let mut deps = Self {
            graphs,
            blocks,
            by_id,
            up: HashMap::new(),
            down: HashMap::new(),
        };
        let ids: Vec<Id> = deps.by_id.keys().copied().collect();
        for id in ids {
            let up = deps.compute(id, true);
            let down = deps.compute(id, false);
            deps.up.insert(id, up);
            deps.down.insert(id, down);
        }
        deps
    }

    fn compute(&self, id: Id, upstream: bool) -> Vec<Id> {
        let b = &self.by_id[&id];
        let g = &self.graphs[b.task];
        let intra = if upstream {
            g.upstream(b)
        } else {
            g.downstream(b)
        };
        let mut out: Vec<Id> = intra.iter().map(|x| (x.task, x.id)).collect();
        for (other, og) in self.graphs.iter().enumerate() {
            let linked = if upstream {
                g.t.upstream.contains(&other)
            } else {
                og.t.upstream.contains(&b.task)
            };
            if !linked {
                continue;
            }
            for x in &self.blocks[other] {
                let rel = if upstream {
                    related(og, x, b)
                } else {
                    related(g, b, x)
                };
                if rel {
                    out.push((x.task, x.id));
                }
            }
        }
        let own = b.task;
        out.sort_by_key(|&(t, i)| (i, if t == own { 0 } else { t + 1 }));
        out
    }

    pub fn upstream(&self, id: Id) -> &[Id] {
        &self.up[&id]
    }
    pub fn downstream(&self, id: Id) -> &[Id] {
        &self.down[&id]
    }
}

/// daisy 1.x's ReadySurface, step by step as docs/semantics.md#scheduling describes it.
#[derive(Default)]
pub struct RefSurface {
    pub surface: HashSet<Id>,
    pub boundary: HashSet<Id>,
}

impl RefSurface {
    fn cleanup(&mut self, deps: &RefDeps, node: Id) {
        for &up in deps.upstream(node) {
            if deps
                .downstream(up)
                .iter()
                .all(|d| self.surface.contains(d) || self.boundary.contains(d))
            {
                self.surface.remove(&up);
                for &d in deps.downstream(up) {
                    if self.boundary.contains(&d)
                        && !deps.upstream(d).iter().any(|u| self.surface.contains(u))
                    {
                        self.boundary.remove(&d);
                    }
                }
            }
        }
    }

    pub fn mark_success(&mut self, deps: &RefDeps, node: Id) -> Vec<Id> {
        assert!(
            deps.upstream(node).iter().all(|u| self.surface.contains(u)),
            "upstream of {node:?} not in surface"
        );
        self.surface.insert(node);
        let mut ready = vec![];
        for &down in deps.downstream(node) {
            let ups = deps.upstream(down);
            if !self.boundary.contains(&down) && ups.iter().any(|u| self.boundary.contains(u)) {
                self.boundary.insert(down);
            } else if ups.iter().all(|u| self.surface.contains(u)) {
                ready.push(down);
            }
        }
        self.cleanup(deps, node);
        if deps.downstream(node).is_empty() {
            self.surface.remove(&node);
        }
        ready
    }

    pub fn mark_failure(&mut self, deps: &RefDeps, node: Id) -> HashSet<Id> {
        assert!(deps.upstream(node).iter().all(|u| self.surface.contains(u)));
        self.boundary.insert(node);
        let mut orphans = HashSet::new();
        let mut queue: VecDeque<Id> = deps.downstream(node).iter().copied().collect();
        while let Some(down) = queue.pop_front() {
            if !self.boundary.contains(&down)
                && deps
                    .upstream(down)
                    .iter()
                    .any(|u| self.boundary.contains(u))
            {
                self.boundary.insert(down);
                orphans.insert(down);
                queue.extend(deps.downstream(down).iter().copied());
            }
        }
        self.cleanup(deps, node);
        if deps.upstream(node).is_empty() {
            self.boundary.remove(&node);
        }
        orphans
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    pub ready: u64,
    pub processing: u64,
    pub completed: u64,
    pub failed: u64,
    pub orphaned: u64,
}

/// daisy 1.x's Scheduler over the reference graph.
pub struct RefScheduler {
    pub deps: RefDeps,
    surface: RefSurface,
    roots: Vec<VecDeque<Id>>,
    queues: Vec<VecDeque<Id>>,
    pub processing: HashSet<Id>,
    retries: HashMap<Id, u32>,
    pub counts: Vec<Counts>,
    /// Orphans counted so far. 1.x counts a block again when a second upstream block fails
    /// after the boundary cleanup dropped it from the boundary (its counts then exceed the
    /// total; about one random schedule in a thousand here). The project counts it once.
    orphaned: HashSet<Id>,
}

impl RefScheduler {
    pub fn new(tasks: Vec<RefTask>) -> Self {
        let deps = RefDeps::new(tasks);
        let n = deps.graphs.len();
        let mut roots = vec![VecDeque::new(); n];
        let mut counts = vec![Counts::default(); n];
        for t in 0..n {
            if !deps.graphs[t].empty {
                // 1.x seeds root tasks only; a block of another task that waits for nothing then
                // never runs and the run hangs. The project starts those too.
                roots[t] = deps.graphs[t]
                    .level_blocks(t, 0)
                    .iter()
                    .map(|b| (t, b.id))
                    .filter(|&id| deps.upstream(id).is_empty())
                    .collect();
                counts[t].ready = roots[t].len() as u64;
            }
        }
        Self {
            deps,
            surface: RefSurface::default(),
            roots,
            queues: vec![VecDeque::new(); n],
            processing: HashSet::new(),
            retries: HashMap::new(),
            counts,
            orphaned: HashSet::new(),
        }
    }

    pub fn acquire(&mut self, t: usize) -> Option<Id> {
        let id = self.roots[t]
            .pop_front()
            .or_else(|| self.queues[t].pop_front())?;
        self.counts[t].ready -= 1;
        self.counts[t].processing += 1;
        self.processing.insert(id);
        Some(id)
    }

    pub fn release(&mut self, id: Id, status: BlockStatus) {
        assert!(self.processing.remove(&id));
        let t = id.0;
        self.counts[t].processing -= 1;
        if status == BlockStatus::Success {
            self.counts[t].completed += 1;
            for r in self.surface.mark_success(&self.deps, id) {
                self.queues[r.0].push_back(r);
                self.counts[r.0].ready += 1;
            }
        } else {
            let retries = self.retries.entry(id).or_insert(0);
            if *retries < self.deps.graphs[t].t.max_retries {
                *retries += 1;
                self.queues[t].push_back(id);
                self.counts[t].ready += 1;
            } else {
                self.counts[t].failed += 1;
                for o in self.surface.mark_failure(&self.deps, id) {
                    if self.orphaned.insert(o) {
                        self.counts[o.0].orphaned += 1;
                    }
                }
            }
        }
    }
}
