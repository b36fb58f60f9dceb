/**
 * State that records change and that must be durable before a checkpoint passes them: the delivery handoff's
 * suppression windows, and the correlation rules' state (Correlator.ts). The live consumer's checkpoint flush calls `persist`
 * on each, and writes the checkpoints only once every one resolved: a restart never resumes after a record whose
 * effect on this state was lost. A state that persisted more than the checkpoints cover (records handed off
 * meanwhile) must tolerate those records being processed again (the suppressor remembers recent alert ids).
 */
export interface CheckpointedState {
  /** Makes durable what the records handed off so far changed; a TransientError when it cannot (retried). */
  persist(): Promise<void>;
}
