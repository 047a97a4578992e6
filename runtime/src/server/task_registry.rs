//! [`Tasks`]: the tasks this process runs or ran, by id, bounded; a finished task is forgotten
//! its time to live after it finished.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use super::task::Task;

/// The tasks of this process, by id.
#[derive(Debug, Default)]
pub(crate) struct Tasks {
    by_id: Mutex<HashMap<String, Arc<Task>>>,
}

impl Tasks {
    /// Keeps `task`, unless `max` tasks are already kept or its owner already has
    /// `per_owner` (expired ones are forgotten first): one caller cannot take every slot.
    pub(super) fn insert(&self, task: Arc<Task>, max: usize, per_owner: usize) -> bool {
        let mut by_id = self
            .by_id
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if !Self::room(&mut by_id, &task.owner, max, per_owner) {
            return false;
        }
        by_id.insert(task.id.clone(), task);
        true
    }

    /// Whether a task of `owner` would be kept now (checked before its handler runs; the
    /// insert checks again).
    pub(super) fn has_room(&self, owner: &str, max: usize, per_owner: usize) -> bool {
        let mut by_id = self
            .by_id
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        Self::room(&mut by_id, owner, max, per_owner)
    }

    fn room(
        by_id: &mut HashMap<String, Arc<Task>>,
        owner: &str,
        max: usize,
        per_owner: usize,
    ) -> bool {
        let fits = |by_id: &HashMap<String, Arc<Task>>| {
            by_id.len() < max && by_id.values().filter(|t| t.owner == owner).count() < per_owner
        };
        if fits(by_id) {
            return true;
        }
        let now = SystemTime::now();
        by_id.retain(|_, task| !task.expired(now));
        fits(by_id)
    }

    /// Forgets task `id`.
    pub(super) fn remove(&self, id: &str) {
        self.by_id
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(id);
    }

    /// The live task `id`.
    pub(super) fn get(&self, id: &str) -> Option<Arc<Task>> {
        let mut by_id = self
            .by_id
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let task = by_id.get(id)?;
        if task.expired(SystemTime::now()) {
            by_id.remove(id);
            return None;
        }
        Some(Arc::clone(task))
    }
}
