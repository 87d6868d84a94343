//! `Block` (daisy.Block) and `cantor_number`: a block of the engine as a Python object.
//!
//! The object holds the engine's [`Block`] itself, so handing a block from the scheduler to
//! Python and back costs one allocation and no conversion. Its ROIs become funlib `Roi` objects
//! only when Python reads them (cached: the same object each time); a ROI assigned from Python is
//! kept as the given object and is what Python reads back, and what the engine uses from then on.

use daisy_core::{Block, BlockId, BlockStatus, TaskId, Tiling};
use daisy_geometry::Roi;
use pyo3::exceptions::{PyTypeError, PyValueError};
use pyo3::prelude::*;
use pyo3::sync::PyOnceLock;
use pyo3::types::{PyDict, PyString, PyTuple, PyType};

use crate::convert::{
    is_int, repr, roi_from_py, roi_from_tuples, roi_to_py, roi_to_tuples, type_name,
};
use crate::errors::{core_error, task_type_error};

/// The members of `daisy.block.BlockStatus`, by value (imported on first use).
static STATUS_MEMBERS: PyOnceLock<[Py<PyAny>; 4]> = PyOnceLock::new();
/// `daisy.block.BlockStatus`.
static STATUS_CLASS: PyOnceLock<Py<PyType>> = PyOnceLock::new();

fn status_members(py: Python<'_>) -> PyResult<&[Py<PyAny>; 4]> {
    STATUS_MEMBERS.get_or_try_init(py, || {
        let class = status_class(py)?;
        let member = |v: u8| class.call1((v,)).map(Bound::unbind);
        Ok([member(0)?, member(1)?, member(2)?, member(3)?])
    })
}

fn status_class(py: Python<'_>) -> PyResult<&Bound<'_, PyType>> {
    STATUS_CLASS.import(py, "daisy.block", "BlockStatus")
}

/// The `BlockStatus` member of a status.
pub(crate) fn status_to_py(py: Python<'_>, status: BlockStatus) -> PyResult<Py<PyAny>> {
    Ok(status_members(py)?[status as usize].clone_ref(py))
}

/// A status from a `BlockStatus` member or its int value.
fn status_from_py(value: &Bound<'_, PyAny>) -> PyResult<BlockStatus> {
    let py = value.py();
    let members = status_members(py)?;
    if let Some(i) = members.iter().position(|m| value.is(m)) {
        return BlockStatus::from_value(i as u8)
            .ok_or_else(|| PyValueError::new_err("status out of range"));
    }
    let raw = if value.is_instance(status_class(py)?)? {
        value.getattr("value")?
    } else if is_int(value) {
        value.clone()
    } else {
        return Err(PyTypeError::new_err(format!(
            "status must be a BlockStatus, got {} ({})",
            repr(value),
            type_name(value)
        )));
    };
    raw.extract::<u8>()
        .ok()
        .and_then(BlockStatus::from_value)
        .ok_or_else(|| {
            PyValueError::new_err(format!(
                "status must be a BlockStatus value 0..=3, got {}",
                repr(value)
            ))
        })
}

/// A spatial block id from Python: a non-negative int below 2^64.
fn spatial_id_from_py(value: &Bound<'_, PyAny>) -> PyResult<u64> {
    if !is_int(value) {
        return Err(PyTypeError::new_err(format!(
            "block_id must be an int, got {} ({})",
            repr(value),
            type_name(value)
        )));
    }
    value.extract::<u64>().map_err(|_| {
        crate::errors::DaisyError::Block.new_err(format!(
            "block_id must be a non-negative int below 2**64, got {}",
            repr(value)
        ))
    })
}

/// A block's task id as Python gave it.
enum TaskIdValue {
    /// A str: the engine's task id.
    Str(TaskId),
    /// None.
    Null,
    /// Any other object (daisy 1.x accepts any value): kept as given; the engine cannot
    /// schedule such a block ([`PyBlock::engine_block`]).
    Other(Py<PyAny>),
}

/// A task id from Python: any value, as in daisy 1.x (a str is the engine's task id).
fn task_id_from_py(value: &Bound<'_, PyAny>) -> PyResult<TaskIdValue> {
    if value.is_none() {
        return Ok(TaskIdValue::Null);
    }
    match value.cast::<PyString>() {
        Ok(s) => Ok(TaskIdValue::Str(TaskId::from(s.to_str()?))),
        Err(_) => Ok(TaskIdValue::Other(value.clone().unbind())),
    }
}

/// A time in seconds since the epoch, or None.
fn time_from_py(value: &Bound<'_, PyAny>, what: &str) -> PyResult<Option<f64>> {
    if value.is_none() {
        return Ok(None);
    }
    value.extract::<f64>().map(Some).map_err(|_| {
        PyTypeError::new_err(format!(
            "{what} must be a number or None, got {} ({})",
            repr(value),
            type_name(value)
        ))
    })
}

/// Which ROI of a block.
#[derive(Clone, Copy)]
enum Which {
    Read,
    Write,
    Requested,
}

impl Which {
    fn name(self) -> &'static str {
        match self {
            Self::Read => "read_roi",
            Self::Write => "write_roi",
            Self::Requested => "requested_write_roi",
        }
    }
}

/// daisy.Block: one placement of a task's read/write templates (docs/semantics.md#blocks-and-block-ids).
#[pyclass(module = "daisy._daisy", name = "Block")]
pub struct PyBlock {
    /// The engine's block; its task id is empty when `has_task_id` is false.
    pub(crate) block: Block,
    /// Whether the task id is a str (the one in `block`); if not, it is `other_task_id`, or
    /// None when that is unset.
    has_task_id: bool,
    /// A task id that is neither a str nor None (daisy 1.x accepts any value).
    other_task_id: Option<Py<PyAny>>,
    /// Python objects for the ROIs: cached funlib Rois, or objects assigned from Python. When
    /// set, they (not the ROIs in `block`) are the block's ROIs.
    read_obj: Option<Py<PyAny>>,
    write_obj: Option<Py<PyAny>>,
    requested_obj: Option<Py<PyAny>>,
}

impl PyBlock {
    /// Wraps an engine block.
    pub(crate) fn from_core(block: Block) -> Self {
        Self {
            block,
            has_task_id: true,
            other_task_id: None,
            read_obj: None,
            write_obj: None,
            requested_obj: None,
        }
    }

    /// A block known only by its id (failure reports): its ROIs read as None.
    pub(crate) fn without_rois(py: Python<'_>, block_id: &BlockId) -> PyResult<Self> {
        let empty = Roi::empty(1).map_err(|e| PyValueError::new_err(e.to_string()))?;
        let mut block = Self::from_core(Block::new(
            block_id.task_id.clone(),
            block_id.spatial_id,
            empty,
            empty,
        ));
        block.read_obj = Some(py.None());
        block.write_obj = Some(py.None());
        block.requested_obj = Some(py.None());
        Ok(block)
    }

    fn slot(&self, which: Which) -> &Option<Py<PyAny>> {
        match which {
            Which::Read => &self.read_obj,
            Which::Write => &self.write_obj,
            Which::Requested => &self.requested_obj,
        }
    }

    fn slot_mut(&mut self, which: Which) -> &mut Option<Py<PyAny>> {
        match which {
            Which::Read => &mut self.read_obj,
            Which::Write => &mut self.write_obj,
            Which::Requested => &mut self.requested_obj,
        }
    }

    fn core_roi(&self, which: Which) -> &Roi {
        match which {
            Which::Read => &self.block.read_roi,
            Which::Write => &self.block.write_roi,
            Which::Requested => &self.block.requested_write_roi,
        }
    }

    /// A block with this one's task-id presence (a task id of None stays None) and another
    /// engine block's contents.
    pub(crate) fn with_core(&self, py: Python<'_>, block: Block) -> Self {
        let mut copy = Self::from_core(block);
        copy.has_task_id = self.has_task_id;
        copy.other_task_id = self.other_task_id.as_ref().map(|t| t.clone_ref(py));
        copy
    }

    /// The engine's block, for handing a Python block back to a scheduler.
    ///
    /// # Errors
    ///
    /// `TaskTypeError` if the task id is not a str (None or another value): the engine knows
    /// tasks by their str ids (a Block may carry any task id, as in daisy 1.x, until it is
    /// given to a scheduler or a graph).
    pub(crate) fn engine_block(&self, py: Python<'_>) -> PyResult<&Block> {
        if self.has_task_id {
            return Ok(&self.block);
        }
        let task_id = self.task_id_object(py);
        Err(task_type_error(format!(
            "block {} has task_id {} ({}): a scheduler knows tasks by their str ids, so a \
             block given to it needs the task_id of one of its tasks",
            self.__repr__(py)?,
            repr(&task_id),
            type_name(&task_id)
        )))
    }

    /// The ROI as the engine sees it.
    fn roi(&self, py: Python<'_>, which: Which) -> PyResult<Roi> {
        match self.slot(which) {
            Some(obj) => roi_from_py(obj.bind(py), which.name()),
            None => Ok(*self.core_roi(which)),
        }
    }

    /// The ROI as Python sees it: a funlib Roi, created on first access and cached.
    fn roi_object(&mut self, py: Python<'_>, which: Which) -> PyResult<Py<PyAny>> {
        if let Some(obj) = self.slot(which) {
            return Ok(obj.clone_ref(py));
        }
        let obj = roi_to_py(py, self.core_roi(which))?.unbind();
        *self.slot_mut(which) = Some(obj.clone_ref(py));
        Ok(obj)
    }

    /// The ROI's text in the block's repr.
    fn roi_text(&self, py: Python<'_>, which: Which) -> PyResult<String> {
        match self.slot(which) {
            Some(obj) => Ok(obj.bind(py).str()?.to_string()),
            None => Ok(self.core_roi(which).to_string()),
        }
    }

    /// The engine block with the ROIs Python sees (for graph queries and the like).
    ///
    /// # Errors
    ///
    /// `TypeError` / `ValueError` if a ROI assigned from Python is not a Roi.
    pub(crate) fn to_core(&self, py: Python<'_>) -> PyResult<Block> {
        let mut block = self.block.clone();
        block.read_roi = self.roi(py, Which::Read)?;
        block.write_roi = self.roi(py, Which::Write)?;
        block.requested_write_roi = self.roi(py, Which::Requested)?;
        Ok(block)
    }

    fn task_id_object<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        if self.has_task_id {
            PyString::new(py, &self.block.block_id.task_id).into_any()
        } else if let Some(task_id) = &self.other_task_id {
            task_id.bind(py).clone()
        } else {
            py.None().into_bound(py)
        }
    }

    /// The task id's text in the block's repr (`str(task_id)`, as daisy 1.x prints it).
    fn task_id_text(&self, py: Python<'_>) -> PyResult<String> {
        if self.has_task_id {
            return Ok(self.block.block_id.task_id.to_string());
        }
        Ok(self.task_id_object(py).str()?.to_string())
    }

    fn block_id_tuple<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        let spatial = self.block.block_id.spatial_id.into_pyobject(py)?.into_any();
        PyTuple::new(py, [self.task_id_object(py), spatial])
    }

    fn set_task_id(&mut self, task_id: TaskIdValue) {
        let (has_task_id, other, engine_id) = match task_id {
            TaskIdValue::Str(id) => (true, None, id),
            TaskIdValue::Null => (false, None, TaskId::from("")),
            TaskIdValue::Other(obj) => (false, Some(obj), TaskId::from("")),
        };
        self.has_task_id = has_task_id;
        self.other_task_id = other;
        self.block.block_id.task_id = engine_id;
    }

    /// A ROI encoded for pickling: `(offset, shape)`, or `(obj,)` for an object that is not a
    /// Roi (e.g. None).
    fn roi_state<'py>(&self, py: Python<'py>, which: Which) -> PyResult<Bound<'py, PyTuple>> {
        let roi = match self.slot(which) {
            None => *self.core_roi(which),
            Some(obj) => match roi_from_py(obj.bind(py), which.name()) {
                Ok(roi) => roi,
                Err(_) => return PyTuple::new(py, [obj.bind(py)]),
            },
        };
        roi_to_tuples(py, &roi)
    }

    /// Restores a ROI from [`PyBlock::roi_state`].
    fn restore_roi(&mut self, which: Which, state: &Bound<'_, PyAny>) -> PyResult<()> {
        let tuple = state.cast::<PyTuple>()?;
        if tuple.len() == 1 {
            *self.slot_mut(which) = Some(tuple.get_item(0)?.unbind());
            return Ok(());
        }
        let roi = roi_from_tuples(state, which.name())?;
        match which {
            Which::Read => self.block.read_roi = roi,
            Which::Write => self.block.write_roi = roi,
            Which::Requested => self.block.requested_write_roi = roi,
        }
        *self.slot_mut(which) = None;
        Ok(())
    }

    /// An independent copy: ROIs that are Rois are copied as values (new funlib objects on
    /// access), other assigned objects are deep-copied.
    fn deep_copy(&self, py: Python<'_>) -> PyResult<Self> {
        let other_task_id = match &self.other_task_id {
            Some(t) => Some(
                py.import("copy")?
                    .call_method1("deepcopy", (t.bind(py),))?
                    .unbind(),
            ),
            None => None,
        };
        let mut copy = Self {
            block: self.block.clone(),
            has_task_id: self.has_task_id,
            other_task_id,
            read_obj: None,
            write_obj: None,
            requested_obj: None,
        };
        for which in [Which::Read, Which::Write, Which::Requested] {
            let Some(obj) = self.slot(which) else {
                continue;
            };
            let obj = obj.bind(py);
            match roi_from_py(obj, which.name()) {
                Ok(roi) => match which {
                    Which::Read => copy.block.read_roi = roi,
                    Which::Write => copy.block.write_roi = roi,
                    Which::Requested => copy.block.requested_write_roi = roi,
                },
                Err(_) => {
                    let copied = py.import("copy")?.call_method1("deepcopy", (obj,))?;
                    *copy.slot_mut(which) = Some(copied.unbind());
                }
            }
        }
        Ok(copy)
    }
}

#[pymethods]
impl PyBlock {
    #[new]
    #[pyo3(signature = (total_roi, read_roi, write_roi, block_id = None, task_id = None))]
    fn new(
        total_roi: &Bound<'_, PyAny>,
        read_roi: &Bound<'_, PyAny>,
        write_roi: &Bound<'_, PyAny>,
        block_id: Option<&Bound<'_, PyAny>>,
        task_id: Option<&Bound<'_, PyAny>>,
    ) -> PyResult<Self> {
        let read = roi_from_py(read_roi, "read_roi")?;
        let write = roi_from_py(write_roi, "write_roi")?;
        let spatial_id = match block_id {
            Some(id) if !id.is_none() => spatial_id_from_py(id)?,
            _ => Tiling::block_id_of(&roi_from_py(total_roi, "total_roi")?, &write)
                .map_err(core_error)?,
        };
        let task_id = match task_id {
            Some(t) => task_id_from_py(t)?,
            None => TaskIdValue::Null,
        };
        let mut block = Self::from_core(Block::new(TaskId::from(""), spatial_id, read, write));
        block.set_task_id(task_id);
        // The given objects are the block's ROIs (`block.read_roi is read_roi`, as in daisy).
        block.read_obj = Some(read_roi.clone().unbind());
        block.write_obj = Some(write_roi.clone().unbind());
        block.requested_obj = Some(write_roi.clone().unbind());
        Ok(block)
    }

    /// The read ROI (funlib Roi).
    #[getter]
    fn read_roi(&mut self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.roi_object(py, Which::Read)
    }

    /// The write ROI (funlib Roi).
    #[getter]
    fn write_roi(&mut self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.roi_object(py, Which::Write)
    }

    /// The write ROI before a shrink (funlib Roi).
    #[getter]
    fn requested_write_roi(&mut self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        self.roi_object(py, Which::Requested)
    }

    /// The status (daisy.block.BlockStatus).
    #[getter]
    fn status(&self, py: Python<'_>) -> PyResult<Py<PyAny>> {
        status_to_py(py, self.block.status)
    }

    /// When the server sent the block (seconds since the epoch), or None.
    #[getter]
    fn started_processing(&self) -> Option<f64> {
        self.block.started_processing
    }

    /// When the block came back (seconds since the epoch), or None.
    #[getter]
    fn stopped_processing(&self) -> Option<f64> {
        self.block.stopped_processing
    }

    /// The task id (a str, None, or the value it was given).
    #[getter]
    fn task_id<'py>(&self, py: Python<'py>) -> Bound<'py, PyAny> {
        self.task_id_object(py)
    }

    /// `(task_id, spatial_id)`.
    #[getter]
    fn block_id<'py>(&self, py: Python<'py>) -> PyResult<Bound<'py, PyTuple>> {
        self.block_id_tuple(py)
    }

    /// Assigning an existing attribute works; adding one is a TypeError (daisy's Freezable).
    fn __setattr__(&mut self, name: &str, value: &Bound<'_, PyAny>) -> PyResult<()> {
        match name {
            "read_roi" => self.read_obj = Some(value.clone().unbind()),
            "write_roi" => self.write_obj = Some(value.clone().unbind()),
            "requested_write_roi" => self.requested_obj = Some(value.clone().unbind()),
            "status" => self.block.status = status_from_py(value)?,
            "started_processing" => {
                self.block.started_processing = time_from_py(value, name)?;
            }
            "stopped_processing" => {
                self.block.stopped_processing = time_from_py(value, name)?;
            }
            "task_id" => self.set_task_id(task_id_from_py(value)?),
            "block_id" => {
                let (task_id, spatial_id): (Bound<'_, PyAny>, Bound<'_, PyAny>) =
                    value.extract().map_err(|_| {
                        PyTypeError::new_err(format!(
                            "block_id must be a tuple (task_id, spatial_id), got {}",
                            repr(value)
                        ))
                    })?;
                let spatial_id = spatial_id_from_py(&spatial_id)?;
                self.set_task_id(task_id_from_py(&task_id)?);
                self.block.block_id.spatial_id = spatial_id;
            }
            _ => {
                return Err(PyTypeError::new_err(format!(
                    "{} is frozen, you can't add attributes to it",
                    self.__repr__(value.py())?
                )));
            }
        }
        Ok(())
    }

    /// An independent deep copy.
    fn copy(&self, py: Python<'_>) -> PyResult<Self> {
        self.deep_copy(py)
    }

    fn __copy__(&self, py: Python<'_>) -> PyResult<Self> {
        self.deep_copy(py)
    }

    #[pyo3(signature = (memo = None))]
    fn __deepcopy__(&self, py: Python<'_>, memo: Option<&Bound<'_, PyDict>>) -> PyResult<Self> {
        let _ = memo;
        self.deep_copy(py)
    }

    /// Equal to another Block with the same `block_id`; never equal to anything else.
    fn __eq__(&self, other: &Bound<'_, PyAny>) -> PyResult<bool> {
        let py = other.py();
        let Ok(other) = other.cast::<PyBlock>() else {
            return Ok(false);
        };
        // Borrowed mutably elsewhere: only possible for the same object.
        let Ok(other) = other.try_borrow() else {
            return Ok(false);
        };
        if self.has_task_id != other.has_task_id || self.block.block_id != other.block.block_id {
            return Ok(false);
        }
        match (&self.other_task_id, &other.other_task_id) {
            (None, None) => Ok(true),
            (Some(a), Some(b)) => a.bind(py).eq(b.bind(py)),
            _ => Ok(false),
        }
    }

    fn __ne__(&self, other: &Bound<'_, PyAny>) -> PyResult<bool> {
        Ok(!self.__eq__(other)?)
    }

    /// `hash(block.block_id)`.
    fn __hash__(&self, py: Python<'_>) -> PyResult<isize> {
        self.block_id_tuple(py)?.hash()
    }

    /// `"<task_id>/<spatial_id> with read ROI <read> and write ROI <write>"`.
    fn __repr__(&self, py: Python<'_>) -> PyResult<String> {
        Ok(format!(
            "{}/{} with read ROI {} and write ROI {}",
            self.task_id_text(py)?,
            self.block.block_id.spatial_id,
            self.roi_text(py, Which::Read)?,
            self.roi_text(py, Which::Write)?
        ))
    }

    fn __str__(&self, py: Python<'_>) -> PyResult<String> {
        self.__repr__(py)
    }

    /// Pickles as `Block._from_state(state)`, with ROIs as plain tuples.
    fn __reduce__<'py>(
        slf: &Bound<'py, Self>,
        py: Python<'py>,
    ) -> PyResult<(Bound<'py, PyAny>, (Bound<'py, PyTuple>,))> {
        let this = slf.borrow();
        let state = PyTuple::new(
            py,
            [
                this.task_id_object(py),
                this.block.block_id.spatial_id.into_pyobject(py)?.into_any(),
                this.roi_state(py, Which::Read)?.into_any(),
                this.roi_state(py, Which::Write)?.into_any(),
                this.roi_state(py, Which::Requested)?.into_any(),
                (this.block.status as u8).into_pyobject(py)?.into_any(),
                this.block.started_processing.into_pyobject(py)?.into_any(),
                this.block.stopped_processing.into_pyobject(py)?.into_any(),
            ],
        )?;
        let constructor = slf.get_type().getattr("_from_state")?;
        Ok((constructor, (state,)))
    }

    /// Rebuilds a pickled block (see `__reduce__`).
    #[classmethod]
    fn _from_state(_cls: &Bound<'_, PyType>, state: &Bound<'_, PyTuple>) -> PyResult<Self> {
        if state.len() != 8 {
            return Err(PyValueError::new_err(format!(
                "a pickled Block has 8 fields, got {}",
                state.len()
            )));
        }
        let empty = Roi::empty(1).map_err(|e| PyValueError::new_err(e.to_string()))?;
        let spatial_id = spatial_id_from_py(&state.get_item(1)?)?;
        let mut block = Self::from_core(Block::new(TaskId::from(""), spatial_id, empty, empty));
        block.set_task_id(task_id_from_py(&state.get_item(0)?)?);
        block.restore_roi(Which::Read, &state.get_item(2)?)?;
        block.restore_roi(Which::Write, &state.get_item(3)?)?;
        block.restore_roi(Which::Requested, &state.get_item(4)?)?;
        block.block.status = status_from_py(&state.get_item(5)?)?;
        block.block.started_processing = time_from_py(&state.get_item(6)?, "started_processing")?;
        block.block.stopped_processing = time_from_py(&state.get_item(7)?, "stopped_processing")?;
        Ok(block)
    }
}

/// The generalised Cantor number of a block index (docs/semantics.md#blocks-and-block-ids); negative components count
/// as 0.
#[pyfunction]
pub(crate) fn cantor_number(index: Vec<i64>) -> PyResult<u64> {
    daisy_core::cantor_number(&index).map_err(core_error)
}
