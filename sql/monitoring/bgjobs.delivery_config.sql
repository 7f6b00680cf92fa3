-- bgjobs.delivery_config(): what a deliverer needs, as the jsonb config of
-- bgjobs_channels.Sender: app_settings (transport, SMTP host and port, Resend base URL,
-- batch size, attempts, backoff, timeout) and secrets (SLACK_WEBHOOK_URL, RESEND_API_KEY,
-- RESEND_FROM, SMTP_USERNAME, SMTP_PASSWORD, and optionally WEBHOOK_URL and
-- WHATSAPP_WEBHOOK_URL, which take precedence over the settings of the same name).
-- The result holds secrets: it is never logged or stored by its callers.
-- SECURITY DEFINER: reads bgjobs.secrets; EXECUTE for bgjobs_deliverer only (granted to the
-- login role of `bgjobs worker`, and the owner of the in-database delivery job), never
-- bgjobs_admin, bgjobs_runner or bgjobs_viewer.
CREATE OR REPLACE FUNCTION bgjobs.delivery_config()
RETURNS jsonb
LANGUAGE sql
STABLE
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
AS $$
  SELECT jsonb_strip_nulls(jsonb_build_object(
    'slack_webhook_url', bgjobs.get_secret('SLACK_WEBHOOK_URL'),
    'webhook_url', coalesce(bgjobs.get_secret('WEBHOOK_URL'), bgjobs.get_setting('webhook_url')),
    'whatsapp_webhook_url', coalesce(bgjobs.get_secret('WHATSAPP_WEBHOOK_URL'), bgjobs.get_setting('whatsapp_webhook_url')),
    'email_transport', bgjobs.get_setting('email_transport'),
    'smtp_host', bgjobs.get_setting('smtp_host'),
    'smtp_port', bgjobs.get_setting('smtp_port'),
    'smtp_starttls', bgjobs.get_setting('smtp_starttls'),
    'smtp_ssl', bgjobs.get_setting('smtp_ssl'),
    'smtp_username', bgjobs.get_secret('SMTP_USERNAME'),
    'smtp_password', bgjobs.get_secret('SMTP_PASSWORD'),
    'alert_email_from', bgjobs.get_setting('alert_email_from'),
    'alert_email_to', bgjobs.get_setting('alert_email_to'),
    'resend_api_key', bgjobs.get_secret('RESEND_API_KEY'),
    'resend_from', coalesce(bgjobs.get_secret('RESEND_FROM'), bgjobs.get_setting('alert_email_from')),
    'resend_base_url', bgjobs.get_setting('resend_base_url'),
    -- defaults and ranges: bgjobs.setting_spec (get_setting, the app_settings check)
    'timeout_seconds', bgjobs.get_setting('delivery_timeout_seconds')::numeric,
    'run_budget_seconds', bgjobs.get_setting('delivery_run_budget_seconds')::numeric,
    'batch_size', bgjobs.get_setting('notification_batch_size')::integer,
    'max_attempts', bgjobs.get_setting('notification_max_attempts')::integer,
    'backoff_base_seconds', bgjobs.get_setting('notification_backoff_base_seconds')::integer,
    'backoff_cap_seconds', bgjobs.get_setting('notification_backoff_cap_seconds')::integer))
$$;
COMMENT ON FUNCTION bgjobs.delivery_config() IS 'Delivery settings and secrets for a deliverer (bgjobs_deliverer only; holds secrets).';
REVOKE ALL ON FUNCTION bgjobs.delivery_config() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION bgjobs.delivery_config() TO bgjobs_deliverer;
