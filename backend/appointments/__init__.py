"""Appointments: visits agreed with customers, which plans keep first; their import and export
as iCalendar (docs/appointments.md)."""
