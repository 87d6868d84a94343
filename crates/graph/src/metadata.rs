//! What a store records about its graph, in funlib.persistence 0.7's metadata format, and the
//! rules that turn the options given on open into it.

use daisy_geometry::{Coordinate, Roi};
use serde_json::{Map, Value, json};

use crate::attr::AttrType;
use crate::error::GraphError;

/// How a store is opened.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// `"r"`: read only; the graph must exist.
    Read,
    /// `"r+"`: read and write; the graph must exist.
    #[default]
    ReadWrite,
    /// `"w"`: create the graph, replacing any there.
    Write,
}

impl Mode {
    /// Parses `"r"`, `"r+"` or `"w"`.
    ///
    /// # Errors
    /// [`GraphError::InvalidOptions`] naming the mode.
    pub fn parse(mode: &str) -> Result<Mode, GraphError> {
        match mode {
            "r" => Ok(Mode::Read),
            "r+" => Ok(Mode::ReadWrite),
            "w" => Ok(Mode::Write),
            other => Err(GraphError::InvalidOptions {
                reason: format!("mode {other:?} is not one of \"r\", \"r+\", \"w\""),
            }),
        }
    }

    /// The mode string.
    #[must_use]
    pub fn as_str(self) -> &'static str {
        match self {
            Mode::Read => "r",
            Mode::ReadWrite => "r+",
            Mode::Write => "w",
        }
    }
}

/// What is given on open (funlib.persistence's constructor arguments); `None` means "as stored"
/// when opening an existing graph, and the default when creating one.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct GraphOptions {
    /// The node attribute holding positions (default `position`).
    pub position_attribute: Option<String>,
    /// Whether edges are directed (default false).
    pub directed: Option<bool>,
    /// The ROI the graph covers (default unbounded).
    pub total_roi: Option<Roi>,
    /// The nodes table (default `nodes`).
    pub nodes_table: Option<String>,
    /// The edges table (default `edges`).
    pub edges_table: Option<String>,
    /// The names of the endpoint columns (default `u`, `v`).
    pub endpoint_names: Option<[String; 2]>,
    /// The node attributes and their types; required to create a graph (the position's
    /// type among them).
    pub node_attrs: Option<Vec<(String, AttrType)>>,
    /// The edge attributes and their types (default none).
    pub edge_attrs: Option<Vec<(String, AttrType)>>,
}

/// What a store records about its graph.
#[derive(Debug, Clone, PartialEq)]
pub struct GraphMetadata {
    /// The node attribute holding positions.
    pub position_attribute: String,
    /// Whether edges are directed.
    pub directed: bool,
    /// The ROI the graph covers.
    pub total_roi: Roi,
    /// The nodes table or collection.
    pub nodes_table: String,
    /// The edges table or collection.
    pub edges_table: String,
    /// The endpoint column names.
    pub endpoint_names: [String; 2],
    /// The node attributes in declaration order (the position among them).
    pub node_attrs: Vec<(String, AttrType)>,
    /// The edge attributes in declaration order.
    pub edge_attrs: Vec<(String, AttrType)>,
    /// The dimensions of the positions.
    pub ndims: usize,
}

impl GraphMetadata {
    /// The metadata of a store opened in `mode` with `options`, given what it has stored.
    ///
    /// Opening an existing graph (`r`, `r+`): every option given must equal what is stored.
    /// Creating one (`w`): the options with their defaults.
    ///
    /// # Errors
    /// [`GraphError::NoMetadata`] (`r`, `r+` and nothing stored);
    /// [`GraphError::MetadataMismatch`] naming the first field that differs;
    /// [`GraphError::InvalidOptions`] for options that do not describe a graph.
    pub fn open(
        stored: Option<GraphMetadata>,
        options: &GraphOptions,
        mode: Mode,
        store: &str,
    ) -> Result<GraphMetadata, GraphError> {
        match mode {
            Mode::Write => GraphMetadata::resolve(None, options, store),
            Mode::Read | Mode::ReadWrite => match stored {
                Some(stored) => GraphMetadata::resolve(Some(stored), options, store),
                None => Err(GraphError::NoMetadata {
                    store: store.to_owned(),
                }),
            },
        }
    }

    /// [`GraphMetadata::open`] without the mode: `stored` checked against `options`, or a
    /// new graph from `options` if nothing is stored.
    ///
    /// # Errors
    /// As [`GraphMetadata::open`].
    pub fn resolve(
        stored: Option<GraphMetadata>,
        options: &GraphOptions,
        store: &str,
    ) -> Result<GraphMetadata, GraphError> {
        match stored {
            Some(stored) => {
                stored.check(options, store)?;
                Ok(stored)
            }
            None => GraphMetadata::create(options),
        }
    }

    fn create(options: &GraphOptions) -> Result<GraphMetadata, GraphError> {
        let node_attrs = options
            .node_attrs
            .clone()
            .ok_or_else(|| GraphError::InvalidOptions {
                reason: "node_attrs is required to create a graph: it declares the attribute \
                         types, the position's among them"
                    .into(),
            })?;
        let position_attribute = options
            .position_attribute
            .clone()
            .unwrap_or_else(|| "position".into());
        let position = node_attrs
            .iter()
            .find(|(name, _)| *name == position_attribute)
            .map(|(_, t)| *t)
            .ok_or_else(|| GraphError::InvalidOptions {
                reason: format!(
                    "node_attrs {:?} has no type for the position attribute {position_attribute:?}",
                    names(&node_attrs)
                ),
            })?;
        let ndims = match position {
            AttrType::Vec(_, 1) => {
                return Err(GraphError::InvalidOptions {
                    reason: format!(
                        "position attribute {position_attribute:?} is a Vec of size 1: use the \
                         scalar type instead (e.g. float, not Vec(float, 1))"
                    ),
                });
            }
            AttrType::Vec(_, size) => size,
            AttrType::Scalar(_) => 1,
        };
        let total_roi = match options.total_roi {
            Some(roi) => roi,
            None => Roi::unbounded(ndims).map_err(|e| GraphError::InvalidOptions {
                reason: format!("positions of {ndims} dimensions: {e}"),
            })?,
        };
        let metadata = GraphMetadata {
            position_attribute,
            directed: options.directed.unwrap_or(false),
            total_roi,
            nodes_table: options
                .nodes_table
                .clone()
                .unwrap_or_else(|| "nodes".into()),
            edges_table: options
                .edges_table
                .clone()
                .unwrap_or_else(|| "edges".into()),
            endpoint_names: options
                .endpoint_names
                .clone()
                .unwrap_or_else(|| ["u".into(), "v".into()]),
            node_attrs,
            edge_attrs: options.edge_attrs.clone().unwrap_or_default(),
            ndims,
        };
        metadata.validate()?;
        Ok(metadata)
    }

    /// Checks names (tables, columns: SQL identifiers), duplicates and the total ROI.
    fn validate(&self) -> Result<(), GraphError> {
        let mut identifiers = vec![
            ("nodes_table", &self.nodes_table),
            ("edges_table", &self.edges_table),
            ("endpoint_names", &self.endpoint_names[0]),
            ("endpoint_names", &self.endpoint_names[1]),
        ];
        identifiers.extend(self.node_attrs.iter().map(|(n, _)| ("node_attrs", n)));
        identifiers.extend(self.edge_attrs.iter().map(|(n, _)| ("edge_attrs", n)));
        for (field, name) in identifiers {
            if !is_identifier(name) {
                return Err(GraphError::InvalidOptions {
                    reason: format!(
                        "{field}: {name:?} is not a plain identifier (letters, digits and _, \
                         not starting with a digit)"
                    ),
                });
            }
        }
        if self.endpoint_names[0] == self.endpoint_names[1] {
            return Err(GraphError::InvalidOptions {
                reason: format!("endpoint_names are equal: {:?}", self.endpoint_names),
            });
        }
        for (kind, attrs, reserved) in [
            ("node_attrs", &self.node_attrs, vec!["id"]),
            (
                "edge_attrs",
                &self.edge_attrs,
                vec![
                    self.endpoint_names[0].as_str(),
                    self.endpoint_names[1].as_str(),
                ],
            ),
        ] {
            for (i, (name, _)) in attrs.iter().enumerate() {
                if reserved.contains(&name.as_str()) || attrs[..i].iter().any(|(n, _)| n == name) {
                    return Err(GraphError::InvalidOptions {
                        reason: format!("{kind}: {name:?} is reserved or declared twice"),
                    });
                }
            }
        }
        if self.total_roi.dims() != self.ndims {
            return Err(GraphError::InvalidOptions {
                reason: format!(
                    "total_roi {} has {} dimensions, the positions {}",
                    self.total_roi,
                    self.total_roi.dims(),
                    self.ndims
                ),
            });
        }
        Ok(())
    }

    /// Checks that every option given equals what is stored.
    fn check(&self, options: &GraphOptions, store: &str) -> Result<(), GraphError> {
        let mismatch = |field: &'static str, given: String, stored: String| {
            Err(GraphError::MetadataMismatch {
                field,
                given,
                stored,
                store: store.to_owned(),
            })
        };
        if let Some(p) = &options.position_attribute
            && *p != self.position_attribute
        {
            return mismatch(
                "position_attribute",
                format!("{p:?}"),
                format!("{:?}", self.position_attribute),
            );
        }
        if let Some(d) = options.directed
            && d != self.directed
        {
            return mismatch("directed", d.to_string(), self.directed.to_string());
        }
        if let Some(r) = &options.total_roi
            && *r != self.total_roi
        {
            return mismatch("total_roi", r.to_string(), self.total_roi.to_string());
        }
        if let Some(t) = &options.nodes_table
            && *t != self.nodes_table
        {
            return mismatch(
                "nodes_table",
                format!("{t:?}"),
                format!("{:?}", self.nodes_table),
            );
        }
        if let Some(t) = &options.edges_table
            && *t != self.edges_table
        {
            return mismatch(
                "edges_table",
                format!("{t:?}"),
                format!("{:?}", self.edges_table),
            );
        }
        if let Some(e) = &options.endpoint_names
            && *e != self.endpoint_names
        {
            return mismatch(
                "endpoint_names",
                format!("{e:?}"),
                format!("{:?}", self.endpoint_names),
            );
        }
        for (field, given, stored) in [
            ("node_attrs", &options.node_attrs, &self.node_attrs),
            ("edge_attrs", &options.edge_attrs, &self.edge_attrs),
        ] {
            if let Some(given) = given
                && !same_attrs(given, stored)
            {
                return mismatch(field, attrs_text(given), attrs_text(stored));
            }
        }
        Ok(())
    }

    /// The store's form of an edge: `(min, max)` if undirected.
    #[must_use]
    pub fn stored_endpoints(&self, u: u64, v: u64) -> (u64, u64) {
        if self.directed {
            (u, v)
        } else {
            (u.min(v), u.max(v))
        }
    }

    /// The type of node attribute `name`.
    ///
    /// # Errors
    /// [`GraphError::UnknownAttribute`].
    pub fn node_attr(&self, name: &str) -> Result<AttrType, GraphError> {
        find(&self.node_attrs, name, "node")
    }

    /// The type of edge attribute `name`.
    ///
    /// # Errors
    /// [`GraphError::UnknownAttribute`].
    pub fn edge_attr(&self, name: &str) -> Result<AttrType, GraphError> {
        find(&self.edge_attrs, name, "edge")
    }

    /// Checks that `roi` has the positions' dimensions.
    ///
    /// # Errors
    /// [`GraphError::RoiDims`].
    pub fn check_roi(&self, roi: &Roi) -> Result<(), GraphError> {
        if roi.dims() == self.ndims {
            Ok(())
        } else {
            Err(GraphError::RoiDims {
                roi: Box::new(*roi),
                dims: roi.dims(),
                ndims: self.ndims,
            })
        }
    }

    /// funlib.persistence's JSON form (its `-meta.json` file and metadata table).
    #[must_use]
    pub fn to_json(&self) -> Value {
        let coordinate = |c: Coordinate| -> Value {
            (0..c.dims())
                .map(|d| c.get(d).map_or(Value::Null, Value::from))
                .collect()
        };
        let attrs = |attrs: &[(String, AttrType)]| -> Value {
            attrs
                .iter()
                .map(|(n, t)| (n.clone(), Value::from(t.to_funlib())))
                .collect::<Map<String, Value>>()
                .into()
        };
        json!({
            "position_attribute": self.position_attribute,
            "directed": self.directed,
            "total_roi_offset": coordinate(self.total_roi.offset()),
            "total_roi_shape": coordinate(self.total_roi.shape()),
            "nodes_table_name": self.nodes_table,
            "edges_table_name": self.edges_table,
            "endpoint_names": self.endpoint_names,
            "node_attrs": attrs(&self.node_attrs),
            "edge_attrs": attrs(&self.edge_attrs),
            "ndims": self.ndims,
        })
    }

    /// funlib.persistence's JSON form as text, the attributes in declaration order.
    #[must_use]
    pub fn to_json_text(&self) -> String {
        let mut value = self.to_json();
        // `Value` sorts object keys: write the attribute objects in declaration order.
        let mut text = String::from("{");
        if let Some(object) = value.as_object_mut() {
            let mut first = true;
            for (key, v) in object.iter() {
                if !first {
                    text.push_str(", ");
                }
                first = false;
                text.push_str(&Value::from(key.as_str()).to_string());
                text.push_str(": ");
                match key.as_str() {
                    "node_attrs" => text.push_str(&attrs_json(&self.node_attrs)),
                    "edge_attrs" => text.push_str(&attrs_json(&self.edge_attrs)),
                    _ => text.push_str(&v.to_string()),
                }
            }
        }
        text.push('}');
        text
    }

    /// Reads funlib.persistence's JSON form from its text (`what` names where it was read
    /// from), keeping the attributes in the order the text lists them.
    ///
    /// # Errors
    /// [`GraphError::InvalidMetadata`] naming the field and the store.
    pub fn from_json_text(
        text: &str,
        store: &str,
        what: &str,
    ) -> Result<GraphMetadata, GraphError> {
        let invalid = |e: serde_json::Error| GraphError::InvalidMetadata {
            store: store.to_owned(),
            reason: format!("{what} does not hold JSON: {e}"),
        };
        let value: Value = serde_json::from_str(text).map_err(invalid)?;
        let mut metadata = GraphMetadata::from_json(&value, store)?;
        // `Value` sorts object keys; the order they were declared in comes from the text.
        let order: AttrOrder = serde_json::from_str(text).map_err(invalid)?;
        let by = |keys: &[String], attrs: &mut Vec<(String, AttrType)>| {
            attrs.sort_by_key(|(n, _)| keys.iter().position(|k| k == n).unwrap_or(usize::MAX));
        };
        by(&order.node_attrs.0, &mut metadata.node_attrs);
        by(&order.edge_attrs.0, &mut metadata.edge_attrs);
        Ok(metadata)
    }

    /// Reads funlib.persistence's JSON form.
    ///
    /// # Errors
    /// [`GraphError::InvalidMetadata`] naming the field and the store.
    pub fn from_json(value: &Value, store: &str) -> Result<GraphMetadata, GraphError> {
        let invalid = |reason: String| GraphError::InvalidMetadata {
            store: store.to_owned(),
            reason,
        };
        let field = |name: &str| {
            value
                .get(name)
                .ok_or_else(|| invalid(format!("no {name:?}")))
        };
        let text = |name: &str| -> Result<String, GraphError> {
            field(name)?
                .as_str()
                .map(str::to_owned)
                .ok_or_else(|| invalid(format!("{name:?} is not a string")))
        };
        let coordinate = |name: &str| -> Result<Coordinate, GraphError> {
            let values = field(name)?
                .as_array()
                .ok_or_else(|| invalid(format!("{name:?} is not a list")))?
                .iter()
                .map(|v| match v {
                    Value::Null => Ok(None),
                    v => v
                        .as_i64()
                        .map(Some)
                        .ok_or_else(|| invalid(format!("{name:?} holds {v}, not an integer"))),
                })
                .collect::<Result<Vec<_>, _>>()?;
            Coordinate::from_options(&values).map_err(|e| invalid(format!("{name:?}: {e}")))
        };
        let attrs = |name: &str| -> Result<Vec<(String, AttrType)>, GraphError> {
            field(name)?
                .as_object()
                .ok_or_else(|| invalid(format!("{name:?} is not an object")))?
                .iter()
                .map(|(k, v)| {
                    let t = v
                        .as_str()
                        .ok_or_else(|| invalid(format!("{name:?}.{k} is not a string")))?;
                    AttrType::parse(t)
                        .map(|t| (k.clone(), t))
                        .map_err(|e| invalid(format!("{name:?}.{k}: {e}")))
                })
                .collect()
        };
        let endpoints = field("endpoint_names")?
            .as_array()
            .and_then(|names| match names.as_slice() {
                [u, v] => Some([u.as_str()?.to_owned(), v.as_str()?.to_owned()]),
                _ => None,
            })
            .ok_or_else(|| invalid("\"endpoint_names\" is not a list of two strings".into()))?;
        let total_roi = Roi::new(
            coordinate("total_roi_offset")?,
            coordinate("total_roi_shape")?,
        )
        .map_err(|e| invalid(format!("total_roi: {e}")))?;
        let ndims = field("ndims")?
            .as_u64()
            .ok_or_else(|| invalid("\"ndims\" is not a number".into()))?
            as usize;
        let metadata = GraphMetadata {
            position_attribute: text("position_attribute")?,
            directed: field("directed")?
                .as_bool()
                .ok_or_else(|| invalid("\"directed\" is not a boolean".into()))?,
            total_roi,
            nodes_table: text("nodes_table_name")?,
            edges_table: text("edges_table_name")?,
            endpoint_names: endpoints,
            node_attrs: attrs("node_attrs")?,
            edge_attrs: attrs("edge_attrs")?,
            ndims,
        };
        metadata.validate().map_err(|e| invalid(e.to_string()))?;
        Ok(metadata)
    }
}

fn find(
    attrs: &[(String, AttrType)],
    name: &str,
    kind: &'static str,
) -> Result<AttrType, GraphError> {
    attrs
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, t)| *t)
        .ok_or_else(|| GraphError::UnknownAttribute {
            kind,
            attr: name.to_owned(),
            declared: names(attrs),
        })
}

fn names(attrs: &[(String, AttrType)]) -> Vec<String> {
    attrs.iter().map(|(n, _)| n.clone()).collect()
}

/// Equal as dictionaries (funlib compares dicts: order does not count).
fn same_attrs(a: &[(String, AttrType)], b: &[(String, AttrType)]) -> bool {
    a.len() == b.len() && a.iter().all(|entry| b.contains(entry))
}

fn attrs_text(attrs: &[(String, AttrType)]) -> String {
    let items: Vec<String> = attrs.iter().map(|(n, t)| format!("{n}: {t}")).collect();
    format!("{{{}}}", items.join(", "))
}

/// A plain SQL identifier: letters, digits and `_`, not starting with a digit.
#[must_use]
pub fn is_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::attr::ScalarType;

    fn options() -> GraphOptions {
        GraphOptions {
            node_attrs: Some(vec![
                ("position".into(), AttrType::Vec(ScalarType::Float, 3)),
                ("score".into(), AttrType::Scalar(ScalarType::Float)),
            ]),
            edge_attrs: Some(vec![("merge".into(), AttrType::Scalar(ScalarType::Float))]),
            ..GraphOptions::default()
        }
    }

    #[test]
    fn creating_fills_funlibs_defaults() {
        let m = GraphMetadata::open(None, &options(), Mode::Write, "t").unwrap();
        assert_eq!(m.position_attribute, "position");
        assert!(!m.directed);
        assert_eq!(m.ndims, 3);
        assert_eq!(m.total_roi, Roi::unbounded(3).unwrap());
        assert_eq!(
            (m.nodes_table.as_str(), m.edges_table.as_str()),
            ("nodes", "edges")
        );
        assert_eq!(m.endpoint_names, ["u".to_owned(), "v".to_owned()]);
    }

    #[test]
    fn the_json_form_is_funlibs_and_round_trips() {
        let m = GraphMetadata::open(None, &options(), Mode::Write, "t").unwrap();
        let value = m.to_json();
        assert_eq!(value["total_roi_offset"], json!([null, null, null]));
        assert_eq!(value["node_attrs"]["position"], "Vec(float, 3)");
        assert_eq!(value["ndims"], 3);
        assert_eq!(GraphMetadata::from_json(&value, "t").unwrap(), m);
        // As funlib.persistence 0.7 writes it for a bounded ROI.
        let funlib = json!({
            "position_attribute": "center", "directed": true,
            "total_roi_offset": [0, 0], "total_roi_shape": [100, 200],
            "nodes_table_name": "frags", "edges_table_name": "adj",
            "endpoint_names": ["a", "b"],
            "node_attrs": {"center": "Vec(int, 2)", "size": "int"},
            "edge_attrs": {"score": "float"}, "ndims": 2
        });
        let read = GraphMetadata::from_json(&funlib, "t").unwrap();
        // Attribute order survives text: "size" declared before "center".
        let mut ordered = read.clone();
        ordered.node_attrs.reverse();
        let text = ordered.to_json_text();
        assert!(
            text.find("\"size\"") < text.find("\"center\": \"Vec"),
            "{text}"
        );
        let again = GraphMetadata::from_json_text(&text, "t", "a test").unwrap();
        assert_eq!(again.node_attrs, ordered.node_attrs);
        assert_eq!(
            serde_json::from_str::<Value>(&text).unwrap(),
            ordered.to_json()
        );
        assert_eq!(
            read.total_roi,
            Roi::from_values(&[0, 0], &[100, 200]).unwrap()
        );
        assert_eq!(
            read.node_attr("center").unwrap(),
            AttrType::Vec(ScalarType::Int, 2)
        );
        let mut broken = funlib.clone();
        broken["node_attrs"]["size"] = json!("double");
        assert!(matches!(
            GraphMetadata::from_json(&broken, "t"),
            Err(GraphError::InvalidMetadata { reason, .. }) if reason.contains("size")
        ));
    }

    #[test]
    fn opening_checks_what_is_given_against_what_is_stored() {
        let stored = GraphMetadata::open(None, &options(), Mode::Write, "t").unwrap();
        let same = GraphMetadata::open(Some(stored.clone()), &options(), Mode::Read, "t").unwrap();
        assert_eq!(same, stored);
        // Only what is given is checked.
        let none = GraphMetadata::open(
            Some(stored.clone()),
            &GraphOptions::default(),
            Mode::ReadWrite,
            "t",
        );
        assert_eq!(none.unwrap(), stored);
        let directed = GraphOptions {
            directed: Some(true),
            ..GraphOptions::default()
        };
        assert!(matches!(
            GraphMetadata::open(Some(stored.clone()), &directed, Mode::Read, "db.sqlite"),
            Err(GraphError::MetadataMismatch { field: "directed", ref store, .. }) if store == "db.sqlite"
        ));
        let position = GraphOptions {
            position_attribute: Some("center".into()),
            ..GraphOptions::default()
        };
        assert!(matches!(
            GraphMetadata::open(Some(stored.clone()), &position, Mode::Read, "t"),
            Err(GraphError::MetadataMismatch {
                field: "position_attribute",
                ..
            })
        ));
        // Attribute order does not count, types do.
        let mut reordered = options();
        reordered.node_attrs.as_mut().unwrap().reverse();
        assert!(GraphMetadata::open(Some(stored.clone()), &reordered, Mode::Read, "t").is_ok());
        let mut retyped = options();
        retyped.node_attrs.as_mut().unwrap()[1].1 = AttrType::Scalar(ScalarType::Int);
        assert!(matches!(
            GraphMetadata::open(Some(stored), &retyped, Mode::Read, "t"),
            Err(GraphError::MetadataMismatch {
                field: "node_attrs",
                ..
            })
        ));
        assert!(matches!(
            GraphMetadata::open(None, &options(), Mode::Read, "t"),
            Err(GraphError::NoMetadata { .. })
        ));
    }

    #[test]
    fn options_that_describe_no_graph_are_errors_naming_the_field() {
        let cases: Vec<(GraphOptions, &str)> = vec![
            (GraphOptions::default(), "node_attrs is required"),
            (
                GraphOptions {
                    position_attribute: Some("center".into()),
                    ..options()
                },
                "no type for the position attribute \"center\"",
            ),
            (
                GraphOptions {
                    node_attrs: Some(vec![(
                        "position".into(),
                        AttrType::Vec(ScalarType::Float, 1),
                    )]),
                    ..GraphOptions::default()
                },
                "Vec of size 1",
            ),
            (
                GraphOptions {
                    nodes_table: Some("nodes; DROP".into()),
                    ..options()
                },
                "nodes_table",
            ),
            (
                GraphOptions {
                    endpoint_names: Some(["u".into(), "u".into()]),
                    ..options()
                },
                "endpoint_names are equal",
            ),
            (
                GraphOptions {
                    total_roi: Some(Roi::unbounded(2).unwrap()),
                    ..options()
                },
                "total_roi",
            ),
            (
                GraphOptions {
                    edge_attrs: Some(vec![("u".into(), AttrType::Scalar(ScalarType::Int))]),
                    ..options()
                },
                "reserved",
            ),
        ];
        for (options, expected) in cases {
            match GraphMetadata::open(None, &options, Mode::Write, "t") {
                Err(GraphError::InvalidOptions { reason }) => {
                    assert!(reason.contains(expected), "{reason} lacks {expected}");
                }
                other => panic!("{expected}: {other:?}"),
            }
        }
        assert!(Mode::parse("a").is_err());
        assert_eq!(Mode::parse("r+").unwrap().as_str(), "r+");
    }
}

/// Attribute types as a JSON object, in the order given.
fn attrs_json(attrs: &[(String, AttrType)]) -> String {
    let items: Vec<String> = attrs
        .iter()
        .map(|(n, t)| {
            format!(
                "{}: {}",
                Value::from(n.as_str()),
                Value::from(t.to_funlib())
            )
        })
        .collect();
    format!("{{{}}}", items.join(", "))
}

/// The order of the attribute names in a metadata text.
#[derive(serde::Deserialize)]
struct AttrOrder {
    #[serde(default)]
    node_attrs: Keys,
    #[serde(default)]
    edge_attrs: Keys,
}

/// The keys of a JSON object, in the order of the text.
#[derive(Default)]
struct Keys(Vec<String>);

impl<'de> serde::Deserialize<'de> for Keys {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Keys, D::Error> {
        struct KeysVisitor;
        impl<'de> serde::de::Visitor<'de> for KeysVisitor {
            type Value = Keys;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("an object of attribute types")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Keys, A::Error> {
                let mut keys = Vec::new();
                while let Some((key, serde::de::IgnoredAny)) = map.next_entry::<String, _>()? {
                    keys.push(key);
                }
                Ok(Keys(keys))
            }
        }
        deserializer.deserialize_map(KeysVisitor)
    }
}
