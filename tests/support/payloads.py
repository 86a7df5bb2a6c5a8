"""Text a tenant might type to make the control plane or a server run something: none of it may work."""

from __future__ import annotations

CORPUS = {
    "jinja expression": "{{ 7*7 }}",
    "jinja raw block": "{% raw %}",
    "jinja pipe lookup": "{{ lookup('pipe','id') }}",
    "ansible env lookup": "{{ lookup('env','HOME') }}",
    "shell substitution": "$(id)",
    "backticks": "`id`",
    "shell sequence": "; id",
    "shell pipe": "| id",
    "yaml python object": "!!python/object/apply:os.system ['id']",
    "yaml anchor and alias": "&a [*a, *a]",
    "yaml mapping": "key: value",
    "yaml list item": "- item",
    "newlines": "one\ntwo\r\n- injected: true",
    "nul character": "before\x00after",
    "very long": "A" * 70_000,
    "unicode": "Ümläut 🎉 \u202eevil \u200bzero-width",
    "path traversal": "../../etc/passwd",
    "absolute path": "/etc/shadow",
    "escapes": "a\\nb\\x41\\\\",
    "escapes in an address": "a\\nb\\x41@example.org",
}
# The worst at once, for the real deploy in tests/e2e.
WORST = (
    "{{ lookup('pipe','id') }} $(id) `id`; id | id {% raw %} &a *a key: value\n- x ../../etc/passwd Ümläut"
)
