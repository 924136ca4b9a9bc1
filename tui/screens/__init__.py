"""The dashboard's screens: main, sessions, task detail, help, and the confirm modal."""
