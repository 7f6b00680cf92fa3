-- set_secret(name, value): stores (or, with a NULL value, removes) a secret such as
-- SLACK_WEBHOOK_URL, RESEND_API_KEY, RESEND_FROM, SMTP_USERNAME, SMTP_PASSWORD.
-- SECURITY DEFINER: bgjobs_admin writes secrets without being able to read the table.
-- The value is never echoed; note that a server with log_statement = 'all' logs the call.
CREATE OR REPLACE FUNCTION public.set_secret(name text, value text)
RETURNS void
LANGUAGE plpgsql
SECURITY DEFINER
SET search_path TO pg_catalog, pg_temp
AS $$
BEGIN
  IF set_secret.name IS NULL OR set_secret.name !~ '^[A-Z][A-Z0-9_]*$' THEN
    RAISE EXCEPTION 'invalid secret name "%": use upper-case letters, digits and _ (e.g. SLACK_WEBHOOK_URL)', set_secret.name
      USING ERRCODE = 'invalid_parameter_value';
  END IF;
  IF set_secret.value IS NULL THEN
    DELETE FROM bgjobs.secrets s WHERE s.name = set_secret.name;
  ELSE
    INSERT INTO bgjobs.secrets AS s (name, value, updated_at)
    VALUES (set_secret.name, set_secret.value, now())
    ON CONFLICT ON CONSTRAINT secrets_pkey DO UPDATE SET value = EXCLUDED.value, updated_at = now();
  END IF;
END;
$$;
COMMENT ON FUNCTION public.set_secret(text, text) IS 'Stores a secret (admin only); NULL removes it. Secrets are never readable by viewers.';
REVOKE ALL ON FUNCTION public.set_secret(text, text) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION public.set_secret(text, text) TO bgjobs_admin;
