"""The desktop app (PySide6): windows, table models, dialogs and translations.

Everything that draws lives here; it is a thin client of the Qt-free core
(:mod:`sttdesk.app`), and no other package imports Qt.
"""
