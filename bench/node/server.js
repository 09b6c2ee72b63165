// The anchor of bench/postgres.py: Fastify + pg (a Pool of 16) on the PostgreSQL store's schema,
// the same two statements (insert an item, read one by id), the same answers.
'use strict';
const fastify = require('fastify')({ logger: false });
const { Pool } = require('pg');

const schema = process.env.SCHEMA || 'hs';
const pool = new Pool({ connectionString: process.env.DATABASE_URL, max: 16 });

fastify.post('/data', async (req, reply) => {
  const members = JSON.stringify(req.body).slice(1, -1);
  const r = await pool.query({
    name: 'create',
    text: `INSERT INTO ${schema}.items (version, members) VALUES (1, $1) RETURNING id`,
    values: [members],
  });
  const id = r.rows[0].id;
  reply.code(201).header('Location', `/data/${id}`).header('Content-Type', 'application/json');
  return `{"id":${id}${members ? ',' + members : ''}}`;
});

fastify.get('/data/:id', async (req, reply) => {
  const r = await pool.query({
    name: 'get',
    text: `SELECT version, members FROM ${schema}.items WHERE id = $1`,
    values: [req.params.id],
  });
  if (r.rows.length === 0) {
    reply.code(404);
    return { title: 'Not Found' };
  }
  const m = r.rows[0].members;
  reply.header('Content-Type', 'application/json');
  return `{"id":${req.params.id}${m ? ',' + m : ''}}`;
});

fastify.listen({ host: '127.0.0.1', port: Number(process.env.PORT) }, (err) => {
  if (err) {
    console.error(err);
    process.exit(1);
  }
  console.error('listening');
});
