"""Data in and out from the TUI: the Import screen and the Export dialog (same core calls as the CLI).

`open_import(app)` / `open_export(app)` are what the app's keys and palette entries call.
"""

from __future__ import annotations


def open_import(app) -> None:
    """i / palette "Import…": the Import screen; when it imported, say what happened."""
    from brewslm_tui.core.text import visible_line
    from brewslm_tui.ui.data.import_screen import ImportScreen

    if not app.review.can_write("import"):
        return

    def done(result) -> None:
        if result is not None:
            head = visible_line(result.summary_lines(examples=0)[0])
            app.notify(
                head,
                timeout=8,
                markup=False,
                severity="information" if result.accepted + result.kept else "warning",
            )

    app.push_screen(ImportScreen(app.project, app.review), done)


def open_export(app) -> None:
    """E / palette "Export candidates…": the Export dialog; when it wrote, say where."""
    from brewslm_tui.core.text import visible_line
    from brewslm_tui.ui.data.export_screen import ExportScreen, export_summary

    def done(report) -> None:
        if report is not None:
            app.notify(visible_line(export_summary(report)), timeout=8, markup=False)

    app.push_screen(ExportScreen(app.project), done)
