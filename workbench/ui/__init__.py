"""The Streamlit workbench: router (app.py), screens/ (the pages), session, state, formatting, charts, network views."""
