/**
 * App entry (package.json "main" after build): importing each file registers its functions.
 * Each line below belongs to the file it imports; registration only, no logic here.
 */
import './pipeline';
import './http-api';
import './cadence-timer';
import './retention';
import './approvals';
import './notifications';
