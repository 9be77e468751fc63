"""The pre-flight checklist runner: YAML checklists, answer sources, the walk and the gate.

Entry point: ``minitrain.preflight.session.run_checklist(Options(...))``. Nothing is imported
here, so importing one module of the package (e.g. ``checklist``) stays cheap.
"""
