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
    /// Keeps `task`, unless `max` tasks are already kept (expired ones are forgotten first).
    pub(super) fn insert(&self, task: Arc<Task>, max: usize) -> bool {
        let mut by_id = self
            .by_id
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if by_id.len() >= max {
            let now = SystemTime::now();
            by_id.retain(|_, task| !task.expired(now));
            if by_id.len() >= max {
                return false;
            }
        }
        by_id.insert(task.id.clone(), task);
        true
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
