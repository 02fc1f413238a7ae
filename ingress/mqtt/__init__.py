"""MQTT device access (OceanConnect's "V3" topics): `auth` holds the rules, `server` the embedded broker."""
