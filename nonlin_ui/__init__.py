"""Streamlit helpers shared by the pages: resources and session, sidebar controls, run views."""
