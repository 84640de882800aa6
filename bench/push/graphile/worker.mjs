// The baseline: graphile-worker doing reflexo-sync's job.  A trigger queues
// one job per new appointment (schema.sql); this task reads the appointment,
// creates it in GHL (ghl-sim) with the same request reflexo-sync sends, and
// writes GHL's id back.  Environment: DATABASE_URL, GHL_API_BASE, GHL_TOKEN,
// CONCURRENCY.
import { run } from "graphile-worker";

const api = process.env.GHL_API_BASE;
const token = process.env.GHL_TOKEN;
const concurrency = Number(process.env.CONCURRENCY || 32);

const taskList = {
  push_appointment: async (payload, helpers) => {
    const {
      rows: [a],
    } = await helpers.query(
      `SELECT location_id, calendar_id, contact_id, title, starts_at, ends_at
         FROM bench_appointments WHERE id = $1`,
      [payload.id],
    );
    const response = await fetch(`${api}/calendars/events/appointments`, {
      method: "POST",
      headers: {
        Authorization: `Bearer ${token}`,
        Version: "2021-04-15",
        "Content-Type": "application/json",
        Accept: "application/json",
      },
      body: JSON.stringify({
        calendarId: a.calendar_id,
        locationId: a.location_id,
        contactId: a.contact_id,
        startTime: a.starts_at.toISOString(),
        endTime: a.ends_at.toISOString(),
        title: a.title,
        appointmentStatus: "new",
      }),
    });
    const body = await response.json();
    if (!response.ok) throw new Error(`GHL ${response.status}: ${JSON.stringify(body)}`);
    await helpers.query(
      `UPDATE bench_appointments SET ghl_appointment_id = $2, pushed_at = clock_timestamp() WHERE id = $1`,
      [payload.id, body.id],
    );
  },
};

const runner = await run({
  connectionString: process.env.DATABASE_URL,
  concurrency,
  maxPoolSize: concurrency + 2,
  pollInterval: 2000,
  noPreparedStatements: false,
  taskList,
});
await runner.promise;
