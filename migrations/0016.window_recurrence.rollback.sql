-- Rollback of 0016.window_recurrence: 'n-last/step' reads the same under the old parser,
-- so the rewritten windows stay as they are.
SELECT 1;
