"""Sources of registered accounts from outside the portal: each adapter turns a delivery
(the national 公金受取口座 registry's extract, as a file) into `ExtractRow`s or `RowError`s;
services.import_extract does the rest."""
