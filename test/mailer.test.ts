import { mkdtempSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { expect, inject, it } from 'vitest';
import { createMailer } from '../activities/mailer.ts';
import { startSmtp } from './support/smtp.ts';

it('writes mail to the data folder when no SMTP server is configured', async () => {
  const dataDir = mkdtempSync(path.join(inject('tempDir'), 'mail-'));
  const mailer = createMailer({ smtpUrl: undefined, from: 'openhooks <no-reply@example.test>', dataDir });
  await mailer.send({ to: 'ops@acme.test', subject: 'Endpoint disabled', text: 'fix it' });
  mailer.close();
  const files = readdirSync(path.join(dataDir, 'mail'));
  expect(files).toHaveLength(1);
  const eml = readFileSync(path.join(dataDir, 'mail', files[0]!), 'utf8');
  expect(eml).toMatch(/^To: ops@acme\.test$/m);
  expect(eml).toMatch(/^Subject: Endpoint disabled$/m);
  expect(eml).toContain('fix it');
});

it('sends through SMTP when SMTP_URL is set', async () => {
  const smtp = await startSmtp();
  const mailer = createMailer({ smtpUrl: smtp.url, from: 'openhooks <no-reply@example.test>', dataDir: inject('tempDir') });
  try {
    await mailer.send({ to: 'ops@acme.test', subject: 'Hello', text: 'over the wire' });
    expect(smtp.mails).toHaveLength(1);
    expect(smtp.mails[0]).toMatchObject({ from: 'no-reply@example.test', to: ['ops@acme.test'] });
    expect(smtp.mails[0]!.text).toContain('over the wire');
  } finally {
    mailer.close();
    await smtp.close();
  }
});
