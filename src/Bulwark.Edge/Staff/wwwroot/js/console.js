// The customer-operations console (docs/guides/console.md).

import { signIn } from './session.js';
import { $ } from './dom.js';

const me = await signIn();
$('console').hidden = false;
$('console').dataset.staff = me.staffId;
