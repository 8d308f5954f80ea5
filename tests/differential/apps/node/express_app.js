// The three-area layout in Express (its defaults: case-insensitive, non-strict routing):
// answers which handler Express chose.
const express = require('express');

const app = express();
const answer = (area) => (req, res) => {
  res.set('X-App', 'express').set('X-Area', area).type('text/plain')
    .send(`area=${area} user=${req.get('x-auth-user-id') || ''} path=${req.path}`);
};
app.all(['/public', '/public/*rest'], answer('public'));
app.all(['/admin', '/admin/*rest'], answer('admin'));
app.all(['/', '/*rest'], answer('protected'));
app.listen(Number(process.argv[2]), '127.0.0.1', () => console.log('ready'));
