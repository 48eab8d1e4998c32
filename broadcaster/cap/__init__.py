"""CAP 1.2 (issue 15): alerts from upstream warning systems in, our urgent announcements out.

- `document`: safe parsing and validation against the CAP 1.2 schema into typed values;
- `policy`: which alerts broadcast at once, which wait for approval, which are ignored;
- `export`: an urgent announcement as a CAP 1.2 alert.
"""
