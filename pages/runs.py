"""Runs: every run in the store — open it, re-run an interrupted one, export its model."""
import streamlit as st

from nonlin_ui import controls, resources, run_list

st.title("Runs")
st.caption("Every run this server has trained, newest first. Runs survive restarts; a run that was "
           "training when the server stopped is marked *interrupted*.")
store = resources.manager().store
if (moved := getattr(store, "moved_aside", None)) is not None:
    st.warning(f"The run store could not be read, so this server started a fresh one. The old file was kept "
               f"as {moved.name} beside the new store.", icon=":material/warning:")
status = st.segmented_control("Show", ["all", *run_list.STATUSES], default="all", key="runs_status")
wanted = None if status in (None, "all") else status
interrupted = store.list_runs(limit=500, status="interrupted") if wanted in (None, "interrupted") else []
if interrupted and st.button(f"Re-run all {len(interrupted)} interrupted", key="btn_rerun_all", type="primary"):
    run_list.rerun([r.config for r in interrupted])
page = st.session_state.get("runs_page", 1)
records, total = run_list.page_of_runs(store, wanted, page - 1)
if not records and page > 1:                                 # the filter shrank the list under this page
    st.session_state.pop("runs_page")
    page, (records, total) = 1, run_list.page_of_runs(store, wanted, 0)
if not records:
    st.info("No runs yet — train one on the Playground." if wanted is None else f"No {wanted} runs.")
    st.stop()
event = st.dataframe(run_list.table(records), key="runs_table", on_select="rerun", selection_mode="single-row",
                     hide_index=True, width="stretch", column_config={"test acc": st.column_config.ProgressColumn(
                         "test acc", min_value=0.0, max_value=1.0, format="percent")})
pages = run_list.page_count(total)
if pages > 1:
    left, right = st.columns([1, 3], vertical_alignment="center")
    left.number_input("Page", 1, pages, key="runs_page")
    first = (page - 1) * run_list.PAGE_SIZE
    right.caption(f"Runs {first + 1}–{first + len(records)} of {total}, newest first.")
rows = event.selection.rows if event is not None else []
if rows:
    record = store.get(records[rows[0]].key)
    st.subheader(f"{run_list.STATUS_ICON.get(record.status, '')} {run_list.describe(record.config)}")
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
