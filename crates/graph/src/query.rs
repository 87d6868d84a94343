//! What a read asks for: which nodes or edges (by ROI, by node ids), which attribute values
//! they must have, and which attributes to return.

use daisy_geometry::Roi;

use crate::attr::AttrValue;

/// Attribute values a node or edge must have (all of them: `attr = value`).
pub type Filter = Vec<(String, AttrValue)>;

/// A read of nodes.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NodeQuery {
    /// The nodes whose position lies in this ROI (all nodes without one).
    pub roi: Option<Roi>,
    /// Attribute values they must have.
    pub filter: Filter,
    /// The attributes to return (all declared ones without a list).
    pub attrs: Option<Vec<String>>,
}

/// Which edges a read returns.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum EdgeSelection {
    /// Every edge.
    #[default]
    All,
    /// The edges whose `u` (with `fetch_on_v`: or `v`) lies in the ROI.
    Roi(Roi),
    /// The edges whose `u` (with `fetch_on_v`: or `v`) is one of these nodes.
    Nodes(Vec<u64>),
}

/// A read of edges.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct EdgeQuery {
    /// Which edges.
    pub selection: EdgeSelection,
    /// Match on `v` as well as on `u`.
    pub fetch_on_v: bool,
    /// Attribute values they must have.
    pub filter: Filter,
    /// The attributes to return (all declared ones without a list).
    pub attrs: Option<Vec<String>>,
}
