DELETE FROM bgjobs.alert_state WHERE rule = 'scheduler_down';
ALTER TABLE bgjobs.alert_state DROP CONSTRAINT alert_state_rule_check;
ALTER TABLE bgjobs.alert_state ADD CONSTRAINT alert_state_rule_check
    CHECK (rule IN ('missed_run', 'stale_heartbeat', 'consecutive_failures', 'slow_run',
                    'no_jobs_24h', 'low_success_rate', 'delivery_rate', 'rule_storm',
                    'analytics_anomaly'));
