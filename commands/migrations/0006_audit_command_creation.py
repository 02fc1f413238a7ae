"""`commands_create` also writes the creation's audit event (issue 21, item 8), in the same statement.

The audit log had every change but command creations: an INSERT of its own would have been a second
round trip on the northbound API's hot path. Inside the function it is one more row in the statement
that already writes the command, its ledger row and its device-log row (bench/commands_bench.py
measures the cost: with and without the audit row in one run). p_audit_action NULL writes none.
The argument list changes, so the old function is dropped (and restored on the way back).
"""

import importlib

from django.db import migrations

OLD = importlib.import_module("commands.migrations.0003_create_command_function")

CREATE = """
CREATE OR REPLACE FUNCTION commands_create(
    p_command_id text, p_application_id bigint, p_device_id bigint, p_service_id text, p_method text,
    p_paras jsonb, p_callback_url text, p_expire_time integer, p_max_retransmit smallint,
    p_batch_task_id bigint, p_created_at timestamptz, p_expires_at timestamptz, p_max_pending integer,
    p_default_mode text, p_log_kind text, p_log_summary text, p_mode text,
    p_audit_action text, p_actor_kind text, p_actor text, p_address inet, p_audit_target text, p_audit_detail jsonb
) RETURNS TABLE (command_pk bigint, power_mode text, pending integer, log_summary text)
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    own_mode text;
    product_mode text;
    found_device bigint;
BEGIN
    SELECT device.id, own.power_mode, product.power_mode INTO found_device, own_mode, product_mode
    FROM devices_device device
    LEFT JOIN commands_deliverypolicy own ON own.device_id = device.id
    LEFT JOIN commands_deliverypolicy product ON product.product_id = device.product_id
    WHERE device.id = p_device_id
    FOR UPDATE OF device;
    IF found_device IS NULL THEN
        RETURN;  -- deleted since it was read: no row
    END IF;
    -- p_mode: the caller's own answer (an LwM2M gateway's sub-device takes its gateway's power mode).
    power_mode := COALESCE(p_mode, NULLIF(own_mode, ''), NULLIF(product_mode, ''), p_default_mode);
    SELECT count(*) INTO pending FROM commands_command c WHERE c.device_id = p_device_id AND c.status = 'PENDING';
    IF pending >= p_max_pending THEN
        command_pk := NULL;
        RETURN NEXT;
        RETURN;
    END IF;
    INSERT INTO commands_command (
        command_id, application_id, device_id, service_id, method, paras, callback_url, expire_time,
        max_retransmit, status, issued_times, created_at, expires_at, batch_task_id
    ) VALUES (
        p_command_id, p_application_id, p_device_id, p_service_id, p_method, p_paras, p_callback_url,
        p_expire_time, p_max_retransmit, 'PENDING', 0, p_created_at, p_expires_at, p_batch_task_id
    ) RETURNING id INTO command_pk;
    INSERT INTO commands_commandevent (command_id, at, status, reason)
    VALUES (command_pk, p_created_at, 'PENDING', 'created');
    log_summary := left(
        p_log_summary || CASE WHEN p_expire_time = 0 THEN 'immediate' ELSE 'cached (' || power_mode || ')' END, 512
    );
    INSERT INTO devices_devicelog (device_id, application_id, created_at, kind, summary, raw)
    VALUES (p_device_id, p_application_id, p_created_at, p_log_kind, log_summary, '');
    IF p_audit_action IS NOT NULL THEN
        INSERT INTO applications_auditevent (occurred_at, action, actor_kind, actor, address, application_id, target,
            detail)
        VALUES (p_created_at, p_audit_action, p_actor_kind, p_actor, p_address, p_application_id, p_audit_target,
            p_audit_detail);
    END IF;
    RETURN NEXT;
END
$$;
"""

DROP = (
    "DROP FUNCTION IF EXISTS commands_create(text, bigint, bigint, text, text, jsonb, text, integer, smallint,"
    " bigint, timestamptz, timestamptz, integer, text, text, text, text, text, text, text, inet, text, jsonb);"
)


class Migration(migrations.Migration):
    dependencies = [
        ("applications", "0004_audit_event"),
        ("commands", "0005_desired_change"),
    ]

    operations = [migrations.RunSQL(OLD.DROP + CREATE, DROP + OLD.CREATE)]
