-- Rollback of 0011.watch.
DROP INDEX IF EXISTS cron.bgjobs_job_run_details_jobid_idx;
DELETE FROM bgjobs.alert_state WHERE rule IN ('stuck_run', 'short_run');
ALTER TABLE bgjobs.alert_state DROP CONSTRAINT alert_state_rule_check;
ALTER TABLE bgjobs.alert_state ADD CONSTRAINT alert_state_rule_check
    CHECK (rule IN ('missed_run', 'stale_heartbeat', 'consecutive_failures', 'slow_run',
                    'no_jobs_24h', 'low_success_rate', 'delivery_rate', 'rule_storm',
                    'analytics_anomaly', 'scheduler_down'));
DROP TABLE IF EXISTS bgjobs.schedule_cache, bgjobs.cron_watch_seen, bgjobs.cron_watch_optouts,
                     bgjobs.watch_runs, bgjobs.watched_jobs;
