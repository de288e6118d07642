//! Webhook endpoint records through the core's store: the core owns the
//! store (one thread, group commit), so the records' writes share its
//! batches and are durable when the batch's commit returns. What a record
//! holds is decided by `webhooks/`; here it is an opaque blob.

use super::error::PubsubError;
use super::service::Service;
use crate::store::Store;

impl<S: Store> Service<S> {
    pub fn webhook_records(&self) -> Result<Vec<(String, Vec<u8>)>, PubsubError> {
        Ok(self.store.load_webhooks()?)
    }

    pub fn put_webhook_record(&mut self, id: &str, record: &[u8]) -> Result<(), PubsubError> {
        Ok(self.store.put_webhook(id, record)?)
    }

    pub fn delete_webhook_record(&mut self, id: &str) -> Result<(), PubsubError> {
        Ok(self.store.delete_webhook(id)?)
    }
}
