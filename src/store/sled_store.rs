//! sled implementation of [`super::Store`] (to be written).
pub struct SledStore;
