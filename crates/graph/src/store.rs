//! The interface every graph store implements.

use daisy_geometry::Roi;

use crate::attr::AttrValue;
use crate::error::GraphError;
use crate::graph::{Edge, Graph, Node};
use crate::metadata::{GraphMetadata, Mode};
use crate::query::{EdgeQuery, EdgeSelection, Filter, NodeQuery};

/// A spatial graph store: nodes with positions and the edges between them, written by ROI
/// (block by block, from many workers at once) and read back by ROI.
///
/// Writes of a ROI take the nodes whose position lies in it and the edges whose `u` does (see
/// [`Graph::nodes_in`], [`Graph::edges_in`]), so that the blocks of a task write every node
/// and edge exactly once. Rows already stored are kept (`fail_if_exists` makes them an error
/// instead).
pub trait GraphStore {
    /// What the store records about its graph.
    fn metadata(&self) -> &GraphMetadata;

    /// The mode the store was opened in.
    fn mode(&self) -> Mode;

    /// A name of the store for messages (file, or database and tables).
    fn describe(&self) -> String;

    /// Writes the nodes of `graph` in `roi` (all without one), with the attributes `attrs`
    /// (all declared ones without a list); the number written.
    ///
    /// # Errors
    /// [`GraphError::ReadOnly`], [`GraphError::RoiDims`], [`GraphError::UnknownAttribute`],
    /// [`GraphError::WrongType`], [`GraphError::AlreadyExists`] (with `fail_if_exists`),
    /// [`GraphError::Backend`].
    fn write_nodes(
        &mut self,
        graph: &Graph,
        roi: Option<&Roi>,
        attrs: Option<&[String]>,
        fail_if_exists: bool,
    ) -> Result<usize, GraphError>;

    /// Writes the edges of `graph` whose `u` lies in `roi` (all without one); the number
    /// written.
    ///
    /// # Errors
    /// As [`GraphStore::write_nodes`], and [`GraphError::MissingEndpoint`].
    fn write_edges(
        &mut self,
        graph: &Graph,
        roi: Option<&Roi>,
        attrs: Option<&[String]>,
        fail_if_exists: bool,
    ) -> Result<usize, GraphError>;

    /// Sets the attributes `attrs` of the stored nodes of `graph` in `roi` to the graph's
    /// values; the number of nodes updated.
    ///
    /// # Errors
    /// As [`GraphStore::write_nodes`].
    fn update_nodes(
        &mut self,
        graph: &Graph,
        roi: Option<&Roi>,
        attrs: &[String],
    ) -> Result<usize, GraphError>;

    /// Sets the attributes `attrs` of the stored edges of `graph` whose `u` lies in `roi`;
    /// the number of edges updated.
    ///
    /// # Errors
    /// As [`GraphStore::write_edges`].
    fn update_edges(
        &mut self,
        graph: &Graph,
        roi: Option<&Roi>,
        attrs: &[String],
    ) -> Result<usize, GraphError>;

    /// The nodes a query selects.
    ///
    /// # Errors
    /// [`GraphError::RoiDims`], [`GraphError::UnknownAttribute`], [`GraphError::Backend`].
    fn read_nodes(&self, query: &NodeQuery) -> Result<Vec<Node>, GraphError>;

    /// The edges a query selects.
    ///
    /// # Errors
    /// As [`GraphStore::read_nodes`].
    fn read_edges(&self, query: &EdgeQuery) -> Result<Vec<Edge>, GraphError>;

    /// The number of nodes in `roi` (all without one).
    ///
    /// # Errors
    /// As [`GraphStore::read_nodes`].
    fn num_nodes(&self, roi: Option<&Roi>) -> Result<u64, GraphError>;

    /// Whether any edge has its `u` in `roi` (any edge without one).
    ///
    /// # Errors
    /// As [`GraphStore::read_nodes`].
    fn has_edges(&self, roi: Option<&Roi>) -> Result<bool, GraphError>;

    /// Starts many writes at once: the store may drop its position index and relax
    /// durability until [`GraphStore::end_bulk_write`] (a `worker` keeps the index: another
    /// process rebuilds it).
    ///
    /// # Errors
    /// [`GraphError::ReadOnly`], [`GraphError::Backend`].
    fn begin_bulk_write(&mut self, worker: bool) -> Result<(), GraphError>;

    /// Ends bulk writing: everything written is durable and indexed again.
    ///
    /// # Errors
    /// [`GraphError::Backend`].
    fn end_bulk_write(&mut self) -> Result<(), GraphError>;

    /// A printable summary of the store (its tables, their rows and sizes), where the
    /// backend has one (`None` otherwise).
    ///
    /// # Errors
    /// [`GraphError::Backend`].
    fn summary(&self) -> Result<Option<String>, GraphError> {
        Ok(None)
    }

    /// Refuses `action` on a store opened read-only.
    ///
    /// # Errors
    /// [`GraphError::ReadOnly`] in mode `r`.
    fn check_writable(&self, action: &'static str) -> Result<(), GraphError> {
        if self.mode() == Mode::Read {
            Err(GraphError::ReadOnly {
                action,
                store: self.describe(),
            })
        } else {
            Ok(())
        }
    }

    /// What a write (or update, by `action`) of `roi` stores: the nodes of `graph` it covers
    /// and the attributes to store (`attrs`, all declared ones without a list), checked
    /// against the declared types: the start of every backend's node writes.
    ///
    /// # Errors
    /// [`GraphError::ReadOnly`], [`GraphError::RoiDims`], [`GraphError::UnknownAttribute`],
    /// [`GraphError::WrongType`].
    fn nodes_to_write(
        &self,
        action: &'static str,
        graph: &Graph,
        roi: Option<&Roi>,
        attrs: Option<&[String]>,
    ) -> Result<(Vec<Node>, Vec<String>), GraphError> {
        self.check_writable(action)?;
        let nodes = graph.nodes_in(roi, self.metadata())?;
        let names = checked_attrs(
            self.metadata(),
            attrs,
            &mut nodes.iter().map(|n| ([n.id, n.id], &n.attrs)),
            false,
        )?;
        Ok((nodes, names))
    }

    /// [`GraphStore::nodes_to_write`] for edges: those whose `u` lies in `roi`, as stored
    /// (`(min, max)` if undirected).
    ///
    /// # Errors
    /// As [`GraphStore::nodes_to_write`], and [`GraphError::MissingEndpoint`].
    fn edges_to_write(
        &self,
        action: &'static str,
        graph: &Graph,
        roi: Option<&Roi>,
        attrs: Option<&[String]>,
    ) -> Result<(Vec<Edge>, Vec<String>), GraphError> {
        self.check_writable(action)?;
        let edges = graph.edges_in(roi, self.metadata())?;
        let names = checked_attrs(
            self.metadata(),
            attrs,
            &mut edges.iter().map(|e| ([e.u, e.v], &e.attrs)),
            true,
        )?;
        Ok((edges, names))
    }

    /// Writes the nodes and edges of `graph` in `roi`.
    ///
    /// # Errors
    /// As [`GraphStore::write_nodes`] and [`GraphStore::write_edges`].
    fn write_graph(
        &mut self,
        graph: &Graph,
        roi: Option<&Roi>,
        fail_if_exists: bool,
    ) -> Result<(usize, usize), GraphError> {
        let nodes = self.write_nodes(graph, roi, None, fail_if_exists)?;
        let edges = self.write_edges(graph, roi, None, fail_if_exists)?;
        Ok((nodes, edges))
    }

    /// The graph in `roi`: its nodes, and (if `read_edges`) the edges whose `u` is one of
    /// them; with a node filter, only edges between nodes that pass it on `u`'s side (as
    /// funlib.persistence reads).
    ///
    /// # Errors
    /// As [`GraphStore::read_nodes`].
    fn read_graph(
        &self,
        nodes: &NodeQuery,
        read_edges: bool,
        edge_attrs: Option<Vec<String>>,
        edges_filter: Filter,
        fetch_on_v: bool,
    ) -> Result<Graph, GraphError> {
        let found = self.read_nodes(nodes)?;
        let mut graph = Graph::new(self.metadata().directed);
        if read_edges {
            let selection = if !nodes.filter.is_empty() {
                EdgeSelection::Nodes(found.iter().map(|n| n.id).collect())
            } else {
                // A ROI unbounded in every dimension selects every edge.
                match nodes.roi {
                    Some(roi) if (0..roi.dims()).any(|d| roi.shape().get(d).is_some()) => {
                        EdgeSelection::Roi(roi)
                    }
                    _ => EdgeSelection::All,
                }
            };
            let query = EdgeQuery {
                selection,
                fetch_on_v,
                filter: edges_filter,
                attrs: edge_attrs,
            };
            graph.edges = self.read_edges(&query)?;
        }
        for node in found {
            graph.add_node(node.id, node.attrs);
        }
        Ok(graph)
    }
}

/// Checks the attributes `attrs` of nodes (`edges: false`) or edges against the declared
/// ones, and the types of the values the graph holds for them; the attribute list to write.
/// `rows` are each node's `[id, id]` or each edge's `[u, v]` with the attributes.
///
/// # Errors
/// [`GraphError::UnknownAttribute`], [`GraphError::WrongType`].
pub fn checked_attrs(
    metadata: &GraphMetadata,
    attrs: Option<&[String]>,
    rows: &mut dyn Iterator<Item = ([u64; 2], &crate::graph::Attrs)>,
    edges: bool,
) -> Result<Vec<String>, GraphError> {
    let (declared, kind) = if edges {
        (&metadata.edge_attrs, "edge")
    } else {
        (&metadata.node_attrs, "node")
    };
    let names: Vec<String> = match attrs {
        Some(attrs) => attrs.to_vec(),
        None => declared.iter().map(|(n, _)| n.clone()).collect(),
    };
    let types = names
        .iter()
        .map(|n| {
            if edges {
                metadata.edge_attr(n)
            } else {
                metadata.node_attr(n)
            }
        })
        .collect::<Result<Vec<_>, _>>()?;
    for ([u, v], row) in rows {
        for (name, t) in names.iter().zip(&types) {
            let value = row.get(name).unwrap_or(&AttrValue::Null);
            if !t.admits(value) {
                return Err(GraphError::WrongType {
                    kind,
                    id: if edges {
                        format!("({u}, {v})")
                    } else {
                        u.to_string()
                    },
                    attr: name.clone(),
                    expected: *t,
                    value: value.to_string(),
                });
            }
        }
    }
    Ok(names)
}
