-- Rollback of 0007.delivery.
REVOKE SELECT (job_name, function_schema, function_name, timeout) ON bgjobs.job_registry FROM bgjobs_deliverer;
