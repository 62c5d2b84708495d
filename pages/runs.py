"""Runs: every run in the store — open it, re-run an interrupted one, export its model."""
import streamlit as st

from nonlin_ui import controls, resources, run_list

st.title("Runs")
st.caption("Every run this server has trained, newest first. Runs survive restarts; a run that was "
           "training when the server stopped is marked *interrupted*.")
store = resources.manager().store
status = st.segmented_control("Show", ["all", "done", "interrupted", "failed", "diverged", "cancelled"],
                              default="all", key="runs_status")
records = store.list_runs(limit=500, status=None if status in (None, "all") else status)
interrupted = [r for r in records if r.status == "interrupted"]
if interrupted and st.button(f"Re-run all {len(interrupted)} interrupted", key="btn_rerun_all", type="primary"):
    run_list.rerun([r.config for r in interrupted])
if not records:
    st.info("No runs yet — train one on the Playground.")
    st.stop()
event = st.dataframe(run_list.table(records), key="runs_table", on_select="rerun", selection_mode="single-row",
                     hide_index=True, width="stretch", column_config={"test acc": st.column_config.ProgressColumn(
                         "test acc", min_value=0.0, max_value=1.0, format="percent")})
rows = event.selection.rows if event is not None else []
if rows:
    record = store.get(records[rows[0]].key)
    st.subheader(run_list.describe(record.config))
    if record.message:
        st.warning(record.message) if record.status != "done" else st.caption(record.message)
    cols = st.columns(3)
    if cols[0].button("Open in Playground", key="btn_open_run"):
        controls.open_in_playground(record.config)
    if record.status in run_list.RERUNNABLE and cols[1].button("Re-run", key="btn_rerun_one", type="primary"):
        run_list.rerun([record.config])
    with cols[2]:
        run_list.export_button(record)
else:
    st.caption("Select a row to open, re-run or export it.")
