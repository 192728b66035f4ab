// Copy buttons of the settings pages: <button data-copy="ID"> copies the value
// of the field with that id. Without JavaScript the fields stay selectable.
for (const button of document.querySelectorAll("button[data-copy]")) {
  button.addEventListener("click", async () => {
    const field = document.getElementById(button.dataset.copy);
    if (!field) return;
    const label = button.textContent;
    try {
      await navigator.clipboard.writeText(field.value);
      button.textContent = "Copied";
    } catch {
      field.select();  // no clipboard permission: leave it selected for Ctrl-C
      button.textContent = "Press Ctrl-C";
    }
    setTimeout(() => { button.textContent = label; }, 2000);
  });
}
