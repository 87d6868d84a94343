//! Nodes, edges and graphs as stores take and return them, and the rules of which of them a
//! write of a ROI covers (the same for every backend).

use std::collections::BTreeMap;

use daisy_geometry::Roi;

use crate::attr::AttrValue;
use crate::error::GraphError;
use crate::metadata::GraphMetadata;

/// Attributes by name.
pub type Attrs = BTreeMap<String, AttrValue>;

/// A node: its id and attributes (the position among them).
#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    /// The id.
    pub id: u64,
    /// The attributes.
    pub attrs: Attrs,
}

/// An edge from `u` to `v` (stored as `(min, max)` in an undirected graph).
#[derive(Debug, Clone, PartialEq)]
pub struct Edge {
    /// The first endpoint.
    pub u: u64,
    /// The second endpoint.
    pub v: u64,
    /// The attributes.
    pub attrs: Attrs,
}

/// A graph: nodes by id and edges (what networkx's `Graph` / `DiGraph` hold).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Graph {
    /// Whether edges are directed.
    pub directed: bool,
    /// The nodes by id.
    pub nodes: BTreeMap<u64, Attrs>,
    /// The edges.
    pub edges: Vec<Edge>,
}

impl Graph {
    /// An empty graph.
    #[must_use]
    pub fn new(directed: bool) -> Graph {
        Graph {
            directed,
            ..Graph::default()
        }
    }

    /// Adds (or replaces) a node.
    pub fn add_node(&mut self, id: u64, attrs: Attrs) {
        self.nodes.insert(id, attrs);
    }

    /// Adds an edge.
    pub fn add_edge(&mut self, u: u64, v: u64, attrs: Attrs) {
        self.edges.push(Edge { u, v, attrs });
    }

    /// The nodes a write of `roi` covers: those whose position lies in `roi` (all of them
    /// without a ROI; a node without a position only then).
    ///
    /// # Errors
    /// [`GraphError::RoiDims`] if `roi` has other dimensions than the positions.
    pub fn nodes_in(
        &self,
        roi: Option<&Roi>,
        metadata: &GraphMetadata,
    ) -> Result<Vec<Node>, GraphError> {
        if let Some(roi) = roi {
            metadata.check_roi(roi)?;
        }
        Ok(self
            .nodes
            .iter()
            .filter(|(_, attrs)| roi.is_none_or(|roi| holds(roi, attrs, metadata)))
            .map(|(&id, attrs)| Node {
                id,
                attrs: attrs.clone(),
            })
            .collect())
    }

    /// The edges a write of `roi` covers, as stored: `(min, max)` in an undirected graph,
    /// and only those whose `u` (after that) lies in `roi`, so that of two blocks sharing an
    /// edge exactly one writes it.
    ///
    /// # Errors
    /// [`GraphError::RoiDims`]; [`GraphError::MissingEndpoint`] if a ROI is given and `u`
    /// is not a node of the graph.
    pub fn edges_in(
        &self,
        roi: Option<&Roi>,
        metadata: &GraphMetadata,
    ) -> Result<Vec<Edge>, GraphError> {
        if let Some(roi) = roi {
            metadata.check_roi(roi)?;
        }
        let mut out = Vec::with_capacity(self.edges.len());
        for edge in &self.edges {
            let (u, v) = metadata.stored_endpoints(edge.u, edge.v);
            if let Some(roi) = roi {
                let attrs = self.nodes.get(&u).ok_or(GraphError::MissingEndpoint {
                    u: edge.u,
                    v: edge.v,
                    missing: u,
                })?;
                if !holds(roi, attrs, metadata) {
                    continue;
                }
            }
            out.push(Edge {
                u,
                v,
                attrs: edge.attrs.clone(),
            });
        }
        Ok(out)
    }
}

/// The position of a node, if it has one of the graph's dimensions.
#[must_use]
pub fn position_of(attrs: &Attrs, metadata: &GraphMetadata) -> Option<Vec<f64>> {
    attrs
        .get(&metadata.position_attribute)
        .and_then(AttrValue::as_point)
        .filter(|p| p.len() == metadata.ndims)
}

/// Whether `roi` contains the position of a node with attributes `attrs` (one of the
/// graph's dimensions, else none), without collecting it.
fn holds(roi: &Roi, attrs: &Attrs, metadata: &GraphMetadata) -> bool {
    let inside = |d: usize, p: Option<f64>| p.is_some_and(|p| within(roi, d, p));
    match attrs.get(&metadata.position_attribute) {
        Some(AttrValue::List(items)) => {
            items.len() == metadata.ndims
                && items.iter().enumerate().all(|(d, v)| inside(d, v.as_f64()))
        }
        Some(scalar) => metadata.ndims == 1 && inside(0, scalar.as_f64()),
        None => false,
    }
}

/// Whether `roi` contains `point` (`begin <= p < end` per dimension; unbounded sides contain
/// everything), positions being floats.
#[must_use]
pub fn contains(roi: &Roi, point: &[f64]) -> bool {
    point.iter().enumerate().all(|(d, &p)| within(roi, d, p))
}

/// Whether `roi` contains coordinate `p` in dimension `d`.
fn within(roi: &Roi, d: usize, p: f64) -> bool {
    roi.begin().get(d).is_none_or(|b| p >= b as f64)
        && roi.end().get(d).is_none_or(|e| p < e as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attr::{AttrType, ScalarType};
    use crate::metadata::GraphOptions;

    fn metadata(directed: bool) -> GraphMetadata {
        let options = GraphOptions {
            directed: Some(directed),
            node_attrs: Some(vec![(
                "position".into(),
                AttrType::Vec(ScalarType::Float, 2),
            )]),
            ..GraphOptions::default()
        };
        GraphMetadata::resolve(None, &options, "test").unwrap()
    }

    fn at(x: f64, y: f64) -> Attrs {
        let mut attrs = Attrs::new();
        attrs.insert(
            "position".into(),
            AttrValue::List(vec![AttrValue::Float(x), AttrValue::Float(y)]),
        );
        attrs
    }

    #[test]
    fn a_roi_covers_the_nodes_inside_half_open() {
        let m = metadata(false);
        let mut g = Graph::new(false);
        g.add_node(1, at(0.0, 0.0));
        g.add_node(2, at(9.999, 5.0));
        g.add_node(3, at(10.0, 5.0));
        g.add_node(4, Attrs::new());
        let roi = Roi::from_values(&[0, 0], &[10, 10]).unwrap();
        let ids: Vec<u64> = g
            .nodes_in(Some(&roi), &m)
            .unwrap()
            .iter()
            .map(|n| n.id)
            .collect();
        assert_eq!(ids, vec![1, 2]);
        assert_eq!(g.nodes_in(None, &m).unwrap().len(), 4);
        let unbounded = Roi::unbounded(2).unwrap();
        assert_eq!(g.nodes_in(Some(&unbounded), &m).unwrap().len(), 3);
        let three = Roi::from_values(&[0, 0, 0], &[1, 1, 1]).unwrap();
        assert!(matches!(
            g.nodes_in(Some(&three), &m),
            Err(GraphError::RoiDims {
                dims: 3,
                ndims: 2,
                ..
            })
        ));
    }

    #[test]
    fn undirected_edges_are_min_max_and_belong_to_the_block_of_u() {
        let m = metadata(false);
        let mut g = Graph::new(false);
        g.add_node(5, at(1.0, 1.0)); // in the first block
        g.add_node(2, at(11.0, 1.0)); // in the second
        g.add_edge(5, 2, Attrs::new());
        let first = Roi::from_values(&[0, 0], &[10, 10]).unwrap();
        let second = Roi::from_values(&[10, 0], &[10, 10]).unwrap();
        // Stored as (2, 5): u = 2 lies in the second block, which alone writes it.
        assert!(g.edges_in(Some(&first), &m).unwrap().is_empty());
        let written = g.edges_in(Some(&second), &m).unwrap();
        assert_eq!((written[0].u, written[0].v), (2, 5));
        // Directed: as given.
        let d = metadata(true);
        let written = g.edges_in(Some(&first), &d).unwrap();
        assert_eq!((written[0].u, written[0].v), (5, 2));
        g.add_edge(7, 5, Attrs::new());
        assert!(matches!(
            g.edges_in(Some(&first), &d),
            Err(GraphError::MissingEndpoint { missing: 7, .. })
        ));
    }
}
